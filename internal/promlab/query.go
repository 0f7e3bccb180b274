package promlab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A Sample is one series of an instant vector: its labels (with __name__
// when the expression keeps it) and value.
type Sample struct {
	Labels map[string]string
	Value  float64
}

func (s Sample) String() string {
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", k, s.Labels[k])
	}
	fmt.Fprintf(&b, "} %g", s.Value)
	return b.String()
}

// Query evaluates expr at the server's current time through
// /api/v1/query and returns the instant vector (a scalar result is one
// sample without labels). An error from Prometheus (a bad expression)
// comes back with its errorType and message.
func (s *Server) Query(ctx context.Context, expr string) ([]Sample, error) {
	u := s.URL + "/api/v1/query?" + url.Values{"query": {expr}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("promlab: query %q: %w", expr, err)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("promlab: query %q: %w", expr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("promlab: query %q: %w", expr, err)
	}
	return parseQueryResponse(expr, body)
}

// The API's envelope (https://prometheus.io/docs/prometheus/latest/querying/api/).
type apiResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

type apiSample struct {
	Metric    map[string]string `json:"metric"`
	Value     [2]any            `json:"value"`
	Histogram json.RawMessage   `json:"histogram"` // a native histogram: no Value
}

func parseQueryResponse(expr string, body []byte) ([]Sample, error) {
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("promlab: query %q: bad response: %w", expr, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("promlab: query %q: %s: %s", expr, r.ErrorType, r.Error)
	}
	switch r.Data.ResultType {
	case "vector":
		var as []apiSample
		if err := json.Unmarshal(r.Data.Result, &as); err != nil {
			return nil, fmt.Errorf("promlab: query %q: bad vector: %w", expr, err)
		}
		out := make([]Sample, 0, len(as))
		for _, a := range as {
			if a.Histogram != nil {
				return nil, fmt.Errorf("promlab: query %q: native histogram samples are not numbers: query histogram_count, histogram_sum or histogram_quantile of them", expr)
			}
			v, err := sampleValue(a.Value)
			if err != nil {
				return nil, fmt.Errorf("promlab: query %q: %w", expr, err)
			}
			out = append(out, Sample{Labels: a.Metric, Value: v})
		}
		return out, nil
	case "scalar":
		var pair [2]any
		if err := json.Unmarshal(r.Data.Result, &pair); err != nil {
			return nil, fmt.Errorf("promlab: query %q: bad scalar: %w", expr, err)
		}
		v, err := sampleValue(pair)
		if err != nil {
			return nil, fmt.Errorf("promlab: query %q: %w", expr, err)
		}
		return []Sample{{Labels: map[string]string{}, Value: v}}, nil
	}
	return nil, fmt.Errorf("promlab: query %q: result type %q, want vector or scalar", expr, r.Data.ResultType)
}

// sampleValue reads [unix time, "value"]; the value is a string so that
// NaN and ±Inf survive JSON.
func sampleValue(p [2]any) (float64, error) {
	s, ok := p[1].(string)
	if !ok {
		return 0, fmt.Errorf("sample value %v is not a string", p[1])
	}
	return strconv.ParseFloat(s, 64)
}

// WaitFor evaluates expr every second until ok accepts the result, and
// returns that result; when ctx ends first it returns the last result and
// an error saying what was seen.
func (s *Server) WaitFor(ctx context.Context, expr string, ok func([]Sample) bool) ([]Sample, error) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last []Sample
	var lastErr error
	for {
		last, lastErr = s.Query(ctx, expr)
		if lastErr == nil && ok(last) {
			return last, nil
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return last, fmt.Errorf("promlab: waiting for %q: %w (last error: %v)", expr, ctx.Err(), lastErr)
			}
			return last, fmt.Errorf("promlab: waiting for %q: %w; last result %v", expr, ctx.Err(), last)
		case <-tick.C:
		}
	}
}
