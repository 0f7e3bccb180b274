package promlab

import (
	"encoding/json"
	"fmt"
	"time"
)

// A Job is one scrape job: targets (host:port) scraped at the server's
// interval.
type Job struct {
	Name    string
	Targets []string
	// MetricsPath defaults to /metrics.
	MetricsPath string
	// Params are URL parameters of every scrape (blackbox style /probe).
	Params map[string][]string
}

// Config says what the server scrapes and how.
type Config struct {
	// Jobs to scrape. The server always scrapes itself as job
	// "prometheus" too.
	Jobs []Job
	// Interval is the scrape and rule evaluation interval (default 1s).
	Interval time.Duration
	// RuleFiles are loaded as rule_files (absolute paths).
	RuleFiles []string
	// NativeHistograms starts the server with
	// --enable-feature=native-histograms: it then scrapes protobuf and
	// stores native histograms (and, in 2.42, not their classic buckets).
	NativeHistograms bool
}

// listenAddr is where the server listens inside its namespace; every
// server has a namespace of its own, so the port never collides.
const listenAddr = "127.0.0.1:9090"

func (c Config) interval() time.Duration {
	if c.Interval > 0 {
		return c.Interval
	}
	return time.Second
}

// The configuration file as JSON, which is YAML too: no YAML library
// needed, and every string is quoted correctly.
type promConfig struct {
	Global        promGlobal     `json:"global"`
	RuleFiles     []string       `json:"rule_files,omitempty"`
	ScrapeConfigs []scrapeConfig `json:"scrape_configs"`
}

type promGlobal struct {
	ScrapeInterval     string `json:"scrape_interval"`
	ScrapeTimeout      string `json:"scrape_timeout"`
	EvaluationInterval string `json:"evaluation_interval"`
}

type scrapeConfig struct {
	JobName       string              `json:"job_name"`
	MetricsPath   string              `json:"metrics_path,omitempty"`
	Params        map[string][]string `json:"params,omitempty"`
	StaticConfigs []staticConfig      `json:"static_configs"`
}

type staticConfig struct {
	Targets []string `json:"targets"`
}

// file returns the prometheus.yml for c.
func (c Config) file() ([]byte, error) {
	iv := promDuration(c.interval())
	pc := promConfig{
		Global:    promGlobal{ScrapeInterval: iv, ScrapeTimeout: iv, EvaluationInterval: iv},
		RuleFiles: c.RuleFiles,
		ScrapeConfigs: []scrapeConfig{{
			JobName:       "prometheus",
			StaticConfigs: []staticConfig{{Targets: []string{listenAddr}}},
		}},
	}
	for _, j := range c.Jobs {
		if j.Name == "" || j.Name == "prometheus" || len(j.Targets) == 0 {
			return nil, fmt.Errorf("promlab: job %q: want a name other than prometheus and at least one target", j.Name)
		}
		pc.ScrapeConfigs = append(pc.ScrapeConfigs, scrapeConfig{
			JobName:       j.Name,
			MetricsPath:   j.MetricsPath,
			Params:        j.Params,
			StaticConfigs: []staticConfig{{Targets: j.Targets}},
		})
	}
	return json.MarshalIndent(pc, "", "  ")
}

// promDuration writes d as Prometheus's duration syntax (milliseconds).
func promDuration(d time.Duration) string {
	return fmt.Sprintf("%dms", d.Milliseconds())
}
