package simulcast

// LayerSize is one spatial layer's encoded picture size, as the publisher announced it
// when adding the track (rid → width × height).
type LayerSize struct {
	Layer         int8 // LayerQ, LayerH or LayerF (LayerForRID of the rid)
	Width, Height uint32
}

// LayerForSize picks the spatial layer for a subscriber that renders the video at
// width × height: the smallest layer at least that large, or the largest there is when
// none is, never above maxLayer. Sizes compare orientation-free (long side with long side,
// short with short), since a rotated camera's encoded frames are sideways to their
// display. A zero render size (unknown, or no preference) means the largest allowed
// layer; a zero in one dimension constrains only the other. Layers of unknown size count
// only when no layer's size is known. It returns NoLayer when maxLayer is NoLayer (the
// subscriber wants nothing), the lowest layer when every layer is above maxLayer, and
// LayerQ when layers is empty (a single-layer track).
func LayerForSize(layers []LayerSize, width, height uint32, maxLayer int8) int8 {
	if maxLayer < 0 {
		return NoLayer
	}
	wantLong, wantShort := max(width, height), min(width, height)
	anyRender := width == 0 && height == 0
	covering, largest, highest, lowest := NoLayer, NoLayer, NoLayer, NoLayer
	var coveringArea, largestArea uint64
	for _, l := range layers {
		if l.Layer < 0 || int(l.Layer) >= MaxLayers {
			continue
		}
		if lowest == NoLayer || l.Layer < lowest {
			lowest = l.Layer
		}
		if l.Layer > maxLayer {
			continue
		}
		highest = max(highest, l.Layer)
		if l.Width == 0 || l.Height == 0 {
			continue
		}
		area := uint64(l.Width) * uint64(l.Height)
		if largest == NoLayer || area > largestArea || area == largestArea && l.Layer > largest {
			largest, largestArea = l.Layer, area
		}
		if max(l.Width, l.Height) >= wantLong && min(l.Width, l.Height) >= wantShort &&
			(covering == NoLayer || area < coveringArea || area == coveringArea && l.Layer < covering) {
			covering, coveringArea = l.Layer, area
		}
	}
	switch {
	case lowest == NoLayer:
		return LayerQ
	case highest == NoLayer:
		return lowest
	case largest == NoLayer:
		return highest // no sizes known
	case anyRender:
		return largest
	case covering != NoLayer:
		return covering
	}
	return largest
}
