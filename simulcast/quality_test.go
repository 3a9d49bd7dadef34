package simulcast

import "testing"

func TestLayerForSize(t *testing.T) {
	three := []LayerSize{{LayerQ, 320, 180}, {LayerH, 640, 360}, {LayerF, 1280, 720}}
	tests := []struct {
		name   string
		layers []LayerSize
		w, h   uint32
		max    int8
		want   int8
	}{
		{"tiny tile", three, 160, 90, LayerF, LayerQ},
		{"exactly q", three, 320, 180, LayerF, LayerQ},
		{"one pixel over q", three, 321, 180, LayerF, LayerH},
		{"between h and f", three, 800, 450, LayerF, LayerF},
		{"larger than f", three, 1920, 1080, LayerF, LayerF},
		{"capped at h", three, 1920, 1080, LayerH, LayerH},
		{"capped at q", three, 800, 450, LayerQ, LayerQ},
		{"cap above need", three, 300, 100, LayerF, LayerQ},
		{"paused", three, 640, 360, NoLayer, NoLayer},
		{"no render size: best allowed", three, 0, 0, LayerF, LayerF},
		{"no render size under a cap", three, 0, 0, LayerH, LayerH},
		{"width only", three, 600, 0, LayerF, LayerH},
		{"height only", three, 0, 700, LayerF, LayerF},
		{"portrait tile of landscape video", three, 180, 320, LayerF, LayerQ},
		{"portrait render of rotated camera", three, 360, 640, LayerF, LayerH},
		{"square tile", three, 400, 400, LayerF, LayerF},
		{"unordered input", []LayerSize{{LayerF, 1280, 720}, {LayerQ, 320, 180}, {LayerH, 640, 360}}, 500, 300, LayerF, LayerH},
		{"two layers, q missing", []LayerSize{{LayerH, 640, 360}, {LayerF, 1280, 720}}, 100, 100, LayerF, LayerH},
		{"two layers, cap below both", []LayerSize{{LayerH, 640, 360}, {LayerF, 1280, 720}}, 100, 100, LayerQ, LayerH},
		{"single layer track", nil, 640, 360, LayerF, LayerQ},
		{"sizes unknown", []LayerSize{{LayerQ, 0, 0}, {LayerH, 0, 0}}, 640, 360, LayerF, LayerH},
		{"one size unknown", []LayerSize{{LayerQ, 320, 180}, {LayerH, 0, 0}, {LayerF, 1280, 720}}, 500, 300, LayerF, LayerF},
		{"bogus layer index ignored", []LayerSize{{LayerQ, 320, 180}, {7, 4000, 4000}, {-2, 9, 9}}, 1000, 1000, LayerF, LayerQ},
		{"equal sizes pick the lower", []LayerSize{{LayerH, 640, 360}, {LayerQ, 640, 360}}, 100, 100, LayerF, LayerQ},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := LayerForSize(tc.layers, tc.w, tc.h, tc.max); got != tc.want {
				t.Fatalf("LayerForSize(%v, %dx%d, max %d) = %d, want %d", tc.layers, tc.w, tc.h, tc.max, got, tc.want)
			}
		})
	}
}
