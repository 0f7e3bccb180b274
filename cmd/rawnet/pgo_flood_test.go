//go:build pgo

package main

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// TestFloodProfile is the run scripts/pgo.sh profiles into
// cmd/rawnet/default.pgo: a flood ping of RAWNET_PGO_COUNT (default
// 300000) round trips to RAWNET_PGO_DST, run inside the lab namespace the
// script brings up. It exists only with the pgo build tag, so that no
// ordinary test run sends it.
func TestFloodProfile(t *testing.T) {
	dst := os.Getenv("RAWNET_PGO_DST")
	if dst == "" {
		t.Fatal("RAWNET_PGO_DST: the lab address to flood is not set (run scripts/pgo.sh)")
	}
	count := os.Getenv("RAWNET_PGO_COUNT")
	if count == "" {
		count = "300000"
	}
	var stdout, stderr bytes.Buffer
	if rc := run(context.Background(), []string{"rawnet", "ping", "-f", "-q", "-c", count, dst}, &stdout, &stderr); rc != 0 {
		t.Fatalf("rawnet ping -f exit %d: %s%s", rc, stdout.String(), stderr.String())
	}
	t.Log(stdout.String())
}
