// Package metricstest reads a /metrics answer back into sample values, for
// tests that check that series exist and move.
package metricstest

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape holds every sample of one scrape by series: the metric name, then
// its labels sorted by name, as in `name{a="1",b="2"}`. A histogram or
// summary gives its _count and _sum samples (and _bucket ones, with le).
type Scrape map[string]float64

// Parse reads the Prometheus text format.
func Parse(r io.Reader) (Scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	s := Scrape{}
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName(), lp.GetValue())
			}
			switch {
			case m.Counter != nil:
				s[Key(name, labels...)] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				s[Key(name, labels...)] = m.GetGauge().GetValue()
			case m.Untyped != nil:
				s[Key(name, labels...)] = m.GetUntyped().GetValue()
			case m.Histogram != nil:
				h := m.GetHistogram()
				s[Key(name+"_count", labels...)] = float64(h.GetSampleCount())
				s[Key(name+"_sum", labels...)] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					s[Key(name+"_bucket", append(slices.Clone(labels), "le", fmtFloat(b.GetUpperBound()))...)] = float64(b.GetCumulativeCount())
				}
			case m.Summary != nil:
				sm := m.GetSummary()
				s[Key(name+"_count", labels...)] = float64(sm.GetSampleCount())
				s[Key(name+"_sum", labels...)] = sm.GetSampleSum()
			}
		}
	}
	return s, nil
}

func fmtFloat(f float64) string { return model.SampleValue(f).String() }

// Get scrapes url over HTTP within t's context, failing t unless it
// answers 200 in the text format.
func Get(t testing.TB, url string) Scrape {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	return Read(t, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Body)
}

// Read parses a /metrics answer, failing t unless it is a 200 in the text
// format.
func Read(t testing.TB, status int, contentType string, body io.Reader) Scrape {
	t.Helper()
	if status != http.StatusOK {
		b, _ := io.ReadAll(body)
		t.Fatalf("scrape answered %d: %s", status, b)
	}
	if !strings.HasPrefix(contentType, "text/plain") {
		t.Fatalf("scrape Content-Type = %q, want text/plain", contentType)
	}
	s, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Key names a series: name, then labels given as name, value pairs.
func Key(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	type pair struct{ k, v string }
	var ps []pair
	for i := 0; i+1 < len(labels); i += 2 {
		ps = append(ps, pair{labels[i], labels[i+1]})
	}
	slices.SortFunc(ps, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", p.k, p.v)
	}
	b.WriteByte('}')
	return b.String()
}

// Value returns the sample of name with labels (name, value pairs) and
// whether the scrape has it.
func (s Scrape) Value(name string, labels ...string) (float64, bool) {
	v, ok := s[Key(name, labels...)]
	return v, ok
}

// Has reports whether the scrape has any series of the metric name (for a
// histogram, its base name).
func (s Scrape) Has(name string) bool {
	for k := range s {
		base, _, _ := strings.Cut(k, "{")
		if base == name || base == name+"_count" {
			return true
		}
	}
	return false
}

// Keys returns every series of the scrape whose name is name, sorted.
func (s Scrape) Keys(name string) []string {
	var out []string
	for k := range s {
		if base, _, _ := strings.Cut(k, "{"); base == name {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Delta returns the change of the sample name with labels from before to
// after, a missing sample counting as 0.
func Delta(before, after Scrape, name string, labels ...string) float64 {
	b, _ := before.Value(name, labels...)
	a, _ := after.Value(name, labels...)
	return a - b
}
