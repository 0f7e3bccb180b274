package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rawnet/rawnet/internal/lab"
	"github.com/rawnet/rawnet/internal/lab/labtest"
	"github.com/rawnet/rawnet/internal/testenv"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key, PEM encoded, into dir.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rawnet test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// --web.config.file (exporter-toolkit's web configuration) puts the
// exporter behind TLS and basic authentication: with the right user and
// password over HTTPS /metrics answers, without them or with a wrong
// password it is 401, plain HTTP is refused, and a web configuration
// that does not load stops the start with exit 2 and one line.
func TestExporterTLSAndBasicAuth(t *testing.T) {
	t.Parallel()
	testenv.NeedTools(t, "curl")
	l := labtest.Up(t, lab.Spec{Routers: 1})
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	web := filepath.Join(dir, "web.yml")
	webConf := "tls_server_config:\n  cert_file: " + certFile + "\n  key_file: " + keyFile +
		"\nbasic_auth_users:\n  alice: " + string(hash) + "\n"
	if err := os.WriteFile(web, []byte(webConf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "rawnet.yml")
	if err := os.WriteFile(cfg, []byte("targets:\n  - name: dst\n    hosts: ["+l.Dst.Addr4.String()+"]\n    interval: 100ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const addr = "127.0.0.1:10731"
	status := func(args ...string) string {
		args = append([]string{"-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", certFile}, args...)
		out, _ := l.Src.Command(context.Background(), "curl", args...).Output()
		return strings.TrimSpace(string(out))
	}
	cmd := l.Src.Command(context.Background(), rawnetBin, "exporter", "--config", cfg, "--web.listen-address", addr, "--web.config.file", web)
	wait := startRawnet(t, cmd)
	deadline := time.Now().Add(20 * time.Second)
	for status("-u", "alice:s3cret", "https://"+addr+"/-/ready") != "200" {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("exporter not ready over HTTPS with basic auth in 20s: %s", wait().stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err := l.Src.Command(context.Background(), "curl", "-sf", "--cacert", certFile, "-u", "alice:s3cret", "https://"+addr+"/metrics").Output()
	if err != nil || !strings.Contains(string(out), "rawnet_exporter_config_last_reload_successful 1") {
		t.Errorf("/metrics over HTTPS with basic auth: %v; no rawnet_exporter_config_last_reload_successful 1 in %d bytes", err, len(out))
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no credentials", []string{"https://" + addr + "/metrics"}, "401"},
		{"wrong password", []string{"-u", "alice:wrong", "https://" + addr + "/metrics"}, "401"},
		{"unknown user", []string{"-u", "bob:s3cret", "https://" + addr + "/metrics"}, "401"},
		{"plain HTTP", []string{"-u", "alice:s3cret", "http://" + addr + "/metrics"}, "400"},
	} {
		if got := status(c.args...); got != c.want {
			t.Errorf("%s: HTTP status %q, want %s", c.name, got, c.want)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if r := wait(); r.code != 0 {
		t.Errorf("exit %d after SIGTERM: %s", r.code, r.stderr)
	}

	// A web configuration that does not load: exit 2, one line naming it.
	bad := filepath.Join(dir, "bad-web.yml")
	if err := os.WriteFile(bad, []byte("tls_server_config:\n  cert_file: "+filepath.Join(dir, "missing.pem")+"\n  key_file: "+keyFile+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := inNS(t, l.Src, "exporter", "--config", cfg, "--web.listen-address", "127.0.0.1:10732", "--web.config.file", bad)
	if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "web") {
		t.Errorf("bad --web.config.file: exit %d, stderr %q: want exit 2 and one line naming the web configuration", r.code, r.stderr)
	}
}
