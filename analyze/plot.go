package analyze

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// heatGrid is one expert's log10 mean |Δ| on a grid of module types
// (columns) × layers (rows); the last row holds the non-layer tensors.
type heatGrid struct {
	mods []string
	z    [][]float64 // [row][col]
}

func (g *heatGrid) Dims() (c, r int)   { return len(g.mods), len(g.z) }
func (g *heatGrid) Z(c, r int) float64 { return g.z[r][c] }
func (g *heatGrid) X(c int) float64    { return float64(c) }
func (g *heatGrid) Y(r int) float64    { return float64(r) }

func (r *Report) heatGrid(k int) *heatGrid {
	g := &heatGrid{mods: r.Modules}
	logv := func(s Stat, ok bool) float64 {
		v := float64(s.MeanAbs)
		if !ok || math.IsNaN(v) || v <= 0 {
			return math.NaN()
		}
		return math.Log10(v)
	}
	er := r.Stats[k]
	for _, grp := range append(append([]Group{}, er.Layers...), er.NonLayer) {
		row := make([]float64, len(r.Modules))
		for c, m := range r.Modules {
			s, ok := grp.Modules[m]
			row[c] = logv(s, ok)
		}
		g.z = append(g.z, row)
	}
	return g
}

// PlotFormats are the formats Plot can write.
var PlotFormats = []string{"svg", "png"}

// Plot draws the report: one heat map per expert (layers × module types,
// colour = log10 mean |Δ|, the top row "out" holding the tensors outside
// the layer stack) and below them the per-layer curves Ā_{e,l} (each
// expert's per-layer mean |Δ| normalised to sum 1). format is "svg" or
// "png".
func (r *Report) Plot(w io.Writer, format string) error {
	panelW := 4 * vg.Inch
	cols := max(len(r.Stats), 2)
	width, height := panelW*vg.Length(cols), 9*vg.Inch
	var canvas vg.CanvasWriterTo
	switch format {
	case "svg":
		canvas = vgsvg.New(width, height)
	case "png":
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(96))}
	default:
		return fmt.Errorf("plot format %q: want svg or png", format)
	}
	dc := draw.New(canvas)
	// White background (PNG is transparent otherwise).
	dc.FillPolygon(color.White, []vg.Point{{X: 0, Y: 0}, {X: width, Y: 0}, {X: width, Y: height}, {X: 0, Y: height}})
	top := draw.Crop(dc, 0, 0, height*0.45, 0)
	strip := draw.Crop(dc, 0, 0, height*0.37, -height*0.55)
	bottom := draw.Crop(dc, 0, 0, 0, -height*0.63)

	// Common colour range over all experts.
	lo, hi := math.Inf(1), math.Inf(-1)
	grids := make([]*heatGrid, len(r.Stats))
	for k := range r.Stats {
		grids[k] = r.heatGrid(k)
		for _, row := range grids[k].z {
			for _, v := range row {
				if !math.IsNaN(v) {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
		}
	}
	if lo > hi {
		lo, hi = -1, 0
	}
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	pal := moreland.ExtendedBlackBody()
	pal.SetMin(lo)
	pal.SetMax(hi)
	tiles := draw.Tiles{Rows: 1, Cols: len(r.Stats), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	rowNames := make([]string, 0, r.Layers+1)
	for l := 0; l < r.Layers; l++ {
		rowNames = append(rowNames, strconv.Itoa(l))
	}
	rowNames = append(rowNames, "out")
	for k := range r.Stats {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("expert %d: %s — log10 mean |Δ| (green: none)", k+1, filepath.Base(r.Experts[k]))
		h := plotter.NewHeatMap(grids[k], pal.Palette(255))
		// The palette maps [Min, Max) to colours; widen a hair so the
		// largest value gets the last colour instead of the NaN colour.
		h.Min, h.Max = lo, hi+(hi-lo)*1e-9
		h.NaN = color.RGBA{R: 205, G: 235, B: 205, A: 255} // pale green: no such tensor
		p.Add(h)
		if len(r.Modules) > 0 {
			p.NominalX(r.Modules...)
		}
		p.NominalY(rowNames...)
		p.X.Tick.Label.Rotation = math.Pi / 3
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
		p.X.Label.Text = "module"
		p.Y.Label.Text = "layer"
		p.Draw(tiles.At(top, k, 0))
	}
	// Colour bar of the heat maps.
	cb := plot.New()
	cb.HideY()
	cb.X.Label.Text = "log10 mean |Δ| (heat maps)"
	cb.Add(&plotter.ColorBar{ColorMap: pal})
	cb.Draw(draw.Crop(strip, width*0.2, -width*0.2, 0, 0))
	// Per-layer curves.
	p := plot.New()
	p.Title.Text = "per-layer change Ā (mean |Δ| per layer, normalised to sum 1 per expert)"
	p.X.Label.Text = "layer"
	p.Y.Label.Text = "Ā"
	p.Legend.Top = true
	step := max(1, r.Layers/16)
	var ticks []plot.Tick
	for l := 0; l < r.Layers; l++ {
		label := ""
		if l%step == 0 {
			label = strconv.Itoa(l)
		}
		ticks = append(ticks, plot.Tick{Value: float64(l), Label: label})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	for k, er := range r.Stats {
		var sum float64
		for _, g := range er.Layers {
			if v := float64(g.Total.MeanAbs); !math.IsNaN(v) {
				sum += v
			}
		}
		pts := make(plotter.XYs, 0, len(er.Layers))
		for l, g := range er.Layers {
			v := float64(g.Total.MeanAbs)
			if math.IsNaN(v) || sum == 0 {
				v = 0
			} else {
				v /= sum
			}
			pts = append(pts, plotter.XY{X: float64(l), Y: v})
		}
		line, scatter, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		c := curveColor(k)
		line.Color, scatter.Color = c, c
		line.Width = vg.Points(1.5)
		p.Add(line, scatter)
		p.Legend.Add(fmt.Sprintf("expert %d: %s", k+1, filepath.Base(r.Experts[k])), line, scatter)
	}
	if s := r.Suggestion; s != nil {
		pts := make(plotter.XYs, 0, len(s.Pi))
		for l, v := range s.Pi {
			if !math.IsNaN(float64(v)) {
				pts = append(pts, plotter.XY{X: float64(l), Y: float64(v)})
			}
		}
		if len(pts) > 0 {
			// π is on another scale; draw it dashed, scaled to the curves' range.
			var peak float64
			for _, er := range r.Stats {
				var sum float64
				for _, g := range er.Layers {
					if v := float64(g.Total.MeanAbs); !math.IsNaN(v) {
						sum += v
					}
				}
				for _, g := range er.Layers {
					if v := float64(g.Total.MeanAbs); sum > 0 && !math.IsNaN(v) {
						peak = max(peak, v/sum)
					}
				}
			}
			for i := range pts {
				pts[i].Y *= peak
			}
			line, err := plotter.NewLine(pts)
			if err != nil {
				return err
			}
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			line.Color = color.Gray{Y: 90}
			p.Add(line)
			p.Legend.Add(fmt.Sprintf("π × %.2g (language layer where π > 1/2): b=%d, u=%d", peak, s.Bottom, s.Top), line)
		}
	}
	p.Add(plotter.NewGrid())
	p.Draw(draw.Crop(bottom, vg.Millimeter*4, -vg.Millimeter*4, vg.Millimeter*4, -vg.Millimeter*2))
	_, err := canvas.WriteTo(w)
	return err
}

func curveColor(k int) color.Color {
	cs := []color.RGBA{{31, 119, 180, 255}, {214, 39, 40, 255}, {44, 160, 44, 255}, {148, 103, 189, 255},
		{255, 127, 14, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}}
	return cs[k%len(cs)]
}
