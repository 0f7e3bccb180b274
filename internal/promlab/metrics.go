package promlab

import (
	"regexp"
	"slices"
	"strings"
)

// ContractMetrics are the metric names rawnet exporter exposes (the
// contract of issue 12), with their type: a histogram's series are
// _bucket, _count and _sum (and, natively, the bare name).
var ContractMetrics = map[string]string{
	"rawnet_probe_requests_total":                                  "counter",
	"rawnet_probe_replies_total":                                   "counter",
	"rawnet_probe_duplicates_total":                                "counter",
	"rawnet_probe_late_replies_total":                              "counter",
	"rawnet_probe_errors_total":                                    "counter",
	"rawnet_probe_rtt_seconds":                                     "histogram",
	"rawnet_probe_oneway_delay_seconds":                            "histogram",
	"rawnet_probe_jitter_seconds":                                  "gauge",
	"rawnet_probe_tcp_replies_total":                               "counter",
	"rawnet_trace_runs_total":                                      "counter",
	"rawnet_trace_hops":                                            "gauge",
	"rawnet_trace_reached":                                         "gauge",
	"rawnet_trace_path_changes_total":                              "counter",
	"rawnet_trace_hop_requests_total":                              "counter",
	"rawnet_trace_hop_replies_total":                               "counter",
	"rawnet_trace_hop_rtt_seconds":                                 "histogram",
	"rawnet_exporter_config_last_reload_successful":                "gauge",
	"rawnet_exporter_config_last_reload_success_timestamp_seconds": "gauge",
	"rawnet_exporter_build_info":                                   "gauge",
}

// Family returns the metric family a series name belongs to
// (rawnet_probe_rtt_seconds_bucket: rawnet_probe_rtt_seconds), or "".
func Family(name string) string {
	if _, ok := ContractMetrics[name]; ok {
		return name
	}
	for _, suf := range []string{"_bucket", "_count", "_sum"} {
		base, ok := strings.CutSuffix(name, suf)
		if ok && ContractMetrics[base] == "histogram" {
			return base
		}
	}
	return ""
}

// metricNameRE matches a rawnet_ metric name, but not the metric part of
// a recording rule's name (level:rawnet_...:operations).
var metricNameRE = regexp.MustCompile(`(?:^|[^:a-zA-Z0-9_])(rawnet_[a-z0-9_]+)`)

// MetricNames returns the rawnet_ series names that text (PromQL, a rules
// file, a dashboard) mentions, sorted, each once.
func MetricNames(text string) []string {
	var names []string
	for _, m := range metricNameRE.FindAllStringSubmatch(text, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}
