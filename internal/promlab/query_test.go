package promlab

import (
	"math"
	"strings"
	"testing"
)

func TestParseQueryResponse(t *testing.T) {
	v, err := parseQueryResponse("x", []byte(`{"status":"success","data":{"resultType":"vector","result":[
		{"metric":{"__name__":"up","instance":"a"},"value":[1700000000.5,"1"]},
		{"metric":{"instance":"b"},"value":[1700000000.5,"NaN"]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 2 || v[0].Value != 1 || v[0].Labels["instance"] != "a" || !math.IsNaN(v[1].Value) {
		t.Errorf("vector: got %v", v)
	}
	if got := v[0].String(); got != `{__name__="up", instance="a"} 1` {
		t.Errorf("String() = %s", got)
	}
	v, err = parseQueryResponse("x", []byte(`{"status":"success","data":{"resultType":"scalar","result":[1700000000,"0.25"]}}`))
	if err != nil || len(v) != 1 || v[0].Value != 0.25 {
		t.Errorf("scalar: got %v, %v", v, err)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"api error":  {`{"status":"error","errorType":"bad_data","error":"parse error"}`, "bad_data: parse error"},
		"matrix":     {`{"status":"success","data":{"resultType":"matrix","result":[]}}`, `result type "matrix"`},
		"histogram":  {`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{"count":"3"}]}]}}`, "histogram_count"},
		"not json":   {`<html>`, "bad response"},
		"bad number": {`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}`, "invalid syntax"},
	} {
		_, err := parseQueryResponse("x", []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}
