package main

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// chart draws the ratio dird/peer of every row as a bar, a line at 1.0
// (as fast as the peer) and a mark at each row's target.
func chart(rs []row, path string) error {
	var vals plotter.Values
	var names []string
	var targets plotter.XYs
	for _, r := range rs {
		if r.Ratio == 0 {
			continue
		}
		i := len(vals)
		vals = append(vals, r.Ratio)
		names = append(names, r.Name())
		if r.Target > 0 {
			targets = append(targets, plotter.XY{X: float64(i), Y: r.Target})
		}
	}
	if len(vals) == 0 {
		// Nothing measured on both sides: an empty chart still says so.
		vals = append(vals, 0)
		names = append(names, "no data")
	}
	p := plot.New()
	p.Title.Text = "dird / peer (ops/s, median over rounds): above 1.0 dird is faster"
	p.Y.Label.Text = "ratio dird / peer"
	p.Y.Min = 0
	bars, err := plotter.NewBarChart(vals, vg.Points(14))
	if err != nil {
		return fmt.Errorf("making bars: %w", err)
	}
	bars.Color = color.RGBA{R: 70, G: 110, B: 190, A: 255}
	bars.LineStyle.Width = 0
	p.Add(bars)
	one, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 1}, {X: float64(len(vals)) - 0.5, Y: 1}})
	if err != nil {
		return fmt.Errorf("making the 1.0 line: %w", err)
	}
	one.Color = color.Black
	one.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(one)
	p.Legend.Add("dird / peer", bars)
	p.Legend.Add("as fast as the peer", one)
	if len(targets) > 0 {
		marks, err := plotter.NewScatter(targets)
		if err != nil {
			return fmt.Errorf("making target marks: %w", err)
		}
		marks.GlyphStyle.Shape = draw.PyramidGlyph{}
		marks.GlyphStyle.Color = color.RGBA{R: 200, G: 40, B: 40, A: 255}
		marks.GlyphStyle.Radius = vg.Points(4)
		p.Add(marks)
		p.Legend.Add("issue 6 target", marks)
	}
	p.Legend.Top = true
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 3
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	p.Add(plotter.NewGrid())
	maxY := 1.2
	for _, v := range vals {
		maxY = math.Max(maxY, v*1.3)
	}
	for _, t := range targets {
		maxY = math.Max(maxY, t.Y*1.3)
	}
	p.Y.Max = maxY
	w := vg.Length(math.Max(16, 1.3*float64(len(vals)))) * vg.Centimeter
	if err := p.Save(w, 12*vg.Centimeter, path); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return nil
}
