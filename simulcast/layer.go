// Package simulcast is the pure logic of layered video: the layer model, keyframe
// detection per codec, and the per-down-track selector that decides which packets to
// forward and how to rewrite them so a decoder sees one continuous stream. It has no
// goroutines, locks or sockets; its owner (a down track in router) drives it.
package simulcast

// Spatial layers, lowest first. A single-layer track uses LayerQ (index 0).
const (
	LayerQ    int8 = 0 // quarter resolution, rid "q"
	LayerH    int8 = 1 // half resolution, rid "h"
	LayerF    int8 = 2 // full resolution, rid "f"
	NoLayer   int8 = -1
	MaxLayers      = 3
)

// LayerForRID maps a simulcast rid to its layer index. An empty rid (no simulcast)
// is layer 0. Unknown rids report ok=false.
func LayerForRID(rid string) (layer int8, ok bool) {
	switch rid {
	case "", "q":
		return LayerQ, true
	case "h":
		return LayerH, true
	case "f":
		return LayerF, true
	}
	return NoLayer, false
}

// RID is the inverse of LayerForRID for simulcast tracks.
func RID(layer int8) string {
	switch layer {
	case LayerQ:
		return "q"
	case LayerH:
		return "h"
	case LayerF:
		return "f"
	}
	return ""
}
