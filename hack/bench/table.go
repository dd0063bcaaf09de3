package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/hack/internal/benchutil"
)

// tableHeader is the head of the results table.
const tableHeader = "| area | figure | n | Berth | baseline (same run) | Berth / baseline | target |\n" +
	"|---|---|---:|---:|---|---:|---|\n"

// table renders figures as one Markdown table, in the order given.
func table(figures []benchutil.Figure) string {
	var b strings.Builder
	b.WriteString(tableHeader)
	for _, f := range figures {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n",
			cell(f.Area), cell(f.Name+direction(f)), samples(f.Samples), value(f.Berth, f.Unit), baseline(f), ratio(f), target(f))
	}
	return b.String()
}

// direction marks which way is better: ↑ for rates, ↓ for latencies, memory and costs.
func direction(f benchutil.Figure) string {
	if f.HigherIsBetter {
		return " ↑"
	}
	return " ↓"
}

func samples(n int) string {
	if n <= 0 {
		return "—"
	}
	return strconv.Itoa(n)
}

func baseline(f benchutil.Figure) string {
	if f.BaselineName == "" {
		return "—"
	}
	return value(f.Baseline, f.Unit) + " (" + cell(f.BaselineName) + ")"
}

// ratio is Berth's value over the baseline's, with what it means: "better" or "worse" for Berth, "same" within 2%.
func ratio(f benchutil.Figure) string {
	r, ok := f.Ratio()
	if !ok {
		return "—"
	}
	word := "same"
	switch {
	case math.Abs(r-1) < 0.02:
	case (r > 1) == f.HigherIsBetter:
		word = "better"
	default:
		word = "worse"
	}
	return fmt.Sprintf("%.2f× (%s)", r, word)
}

func target(f benchutil.Figure) string {
	switch {
	case f.Target == "":
		return "—"
	case f.Met == nil:
		return cell(f.Target)
	case *f.Met:
		return cell(f.Target) + ": met"
	default:
		return cell(f.Target) + ": **missed**"
	}
}

// value formats a number with its unit: three significant digits or more, thousands grouped with thin spaces.
func value(v float64, unit string) string {
	var s string
	switch a := math.Abs(v); {
	case a >= 100:
		s = group(strconv.FormatFloat(math.Round(v), 'f', 0, 64))
	case a >= 10:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	default:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	}
	if unit == "" {
		return s
	}
	return s + " " + unit
}

// group puts a thin space between groups of three digits of an integer of five digits or more.
func group(digits string) string {
	sign := ""
	if strings.HasPrefix(digits, "-") {
		sign, digits = "-", digits[1:]
	}
	if len(digits) < 5 {
		return sign + digits
	}
	var parts []string
	for len(digits) > 3 {
		parts = append([]string{digits[len(digits)-3:]}, parts...)
		digits = digits[:len(digits)-3]
	}
	return sign + strings.Join(append([]string{digits}, parts...), "\u2009")
}

// cell escapes what would break a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Markers around the generated part of docs/benchmarks.md.
const (
	beginMarker = "<!-- BEGIN make bench -->"
	endMarker   = "<!-- END make bench -->"
)

// replaceBetweenMarkers replaces what stands between the begin and end markers of doc with content.
func replaceBetweenMarkers(doc, content string) (string, error) {
	i := strings.Index(doc, beginMarker)
	j := strings.Index(doc, endMarker)
	if i < 0 || j < 0 || j < i {
		return "", errors.New("the document has no " + beginMarker + " ... " + endMarker + " section")
	}
	start := i + len(beginMarker)
	return doc[:start] + "\n" + strings.TrimSpace(content) + "\n" + doc[j:], nil
}
