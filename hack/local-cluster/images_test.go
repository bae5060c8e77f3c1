package main

import (
	"archive/tar"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestBinaryName(t *testing.T) {
	for rel, want := range map[string]string{
		"controllers/application": "plinth-application-controller",
		"agents/status":           "plinth-status-agent",
		"procmgr":                 "plinth-procmgr",
		"cmd/plinth-plugin":       "plinth-plugin",
		"procmgr/tools/x":         "plinth-procmgr-tools-x",
	} {
		if got := binaryName(rel); got != want {
			t.Errorf("binaryName(%q) = %q, want %q", rel, got, want)
		}
	}
}

func TestResolveImage(t *testing.T) {
	for in, want := range map[string]string{
		"redis:7.0":                   "localhost/plinth-mirror/redis:7.0",
		"docker.io/library/redis:8.0": "localhost/plinth-mirror/redis:8.0",
		"postgres:17":                 "localhost/plinth-mirror/postgres:17",
		"pause":                       pauseImage,
		"plinth":                      plinthImage,
		plinthImage:                   plinthImage,
	} {
		got, err := resolveImage(in)
		if err != nil || got != want {
			t.Errorf("resolveImage(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"redis", "redis:6.2", "mysql:8", ""} {
		if got, err := resolveImage(bad); err == nil {
			t.Errorf("resolveImage(%q) = %q, want an error", bad, got)
		}
	}
}

func TestCheckVersion(t *testing.T) {
	dir := t.TempDir()
	layer := filepath.Join(dir, "layer.tar")
	os.WriteFile(layer+".packages", []byte("redis-server=5:7.0.15-1~deb12u5\npostgresql-15=15.14-0+deb12u1\n"), 0o644)
	if err := checkVersion(layer, redisImage("7.0")); err != nil {
		t.Errorf("redis 7.0: %v", err)
	}
	if err := checkVersion(layer, postgresImage("15")); err != nil {
		t.Errorf("postgres 15: %v", err)
	}
	if err := checkVersion(layer, redisImage("8.0")); err == nil || !strings.Contains(err.Error(), "not 8.0") {
		t.Errorf("redis 8.0 on a 7.0 root filesystem: %v, want a mismatch", err)
	}
	if err := checkVersion(layer, postgresImage("17")); err == nil {
		t.Error("postgres 17 missing: want an error")
	}
}

// TestWriteArchive checks the docker-archive layout ctr imports: the
// manifest names each tag's config and the shared layer, and the config's
// diff_id is the layer's digest.
func TestWriteArchive(t *testing.T) {
	dir := t.TempDir()
	layer := filepath.Join(dir, "layer.tar")
	if err := writeLayer(layer, []layerFile{
		{name: "usr/local/bin/hello", data: "#!/bin/sh\necho hi\n", mode: 0o755},
		{name: "tmp/", mode: 0o1777},
	}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image.tar")
	imgs := []archiveImage{
		{ref: "localhost/x/a:1", config: imageConfig{Cmd: []string{"hello"}}},
		{ref: "localhost/x/b:2", config: imageConfig{User: "65532"}},
	}
	if err := writeArchive(out, layer, imgs); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = b
	}
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) != 2 {
		t.Fatalf("manifest has %d images, want 2", len(manifest))
	}
	sum := sha256.Sum256(files[manifest[0].Layers[0]])
	diffID := "sha256:" + hex.EncodeToString(sum[:])
	for i, m := range manifest {
		if m.RepoTags[0] != imgs[i].ref || len(m.Layers) != 1 || m.Layers[0] != manifest[0].Layers[0] {
			t.Errorf("manifest entry %d = %+v", i, m)
		}
		cfgSum := sha256.Sum256(files[m.Config])
		if m.Config != hex.EncodeToString(cfgSum[:])+".json" {
			t.Errorf("config %s is not named by its digest", m.Config)
		}
		var cfg struct {
			Architecture, OS string
			RootFS           struct {
				DiffIDs []string `json:"diff_ids"`
			} `json:"rootfs"`
		}
		if err := json.Unmarshal(files[m.Config], &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.Architecture != "amd64" || cfg.OS != "linux" || len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != diffID {
			t.Errorf("config %d = %+v, want diff_id %s", i, cfg, diffID)
		}
	}
	// The layer holds the file with its parents.
	lr := tar.NewReader(strings.NewReader(string(files[manifest[0].Layers[0]])))
	var names []string
	for {
		h, err := lr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	if got := strings.Join(names, " "); got != "usr/ usr/local/ usr/local/bin/ usr/local/bin/hello tmp/" {
		t.Errorf("layer entries: %s", got)
	}
}

func TestPKI(t *testing.T) {
	dir := t.TempDir()
	if err := writePKI(dir); err != nil {
		t.Fatal(err)
	}
	load := func(name string) *x509.Certificate {
		b, err := os.ReadFile(filepath.Join(dir, name+".crt"))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	pool := x509.NewCertPool()
	pool.AddCert(load("ca"))
	api := load("apiserver")
	for _, host := range []string{"kubernetes.default.svc.cluster.local", "127.0.0.1", apiServiceIP, bridgeIP} {
		if _, err := api.Verify(x509.VerifyOptions{DNSName: host, Roots: pool}); err != nil {
			t.Errorf("apiserver certificate for %s: %v", host, err)
		}
	}
	kubelet := load("kubelet")
	if kubelet.Subject.CommonName != "system:node:"+nodeName || kubelet.Subject.Organization[0] != "system:nodes" {
		t.Errorf("kubelet identity %v: the Node authorizer would refuse it", kubelet.Subject)
	}
	if _, err := kubelet.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("kubelet client certificate: %v", err)
	}
}

// TestConfigsParse checks that the rendered YAML configs are valid YAML with
// the settings this machine needs.
func TestConfigsParse(t *testing.T) {
	c := &Cluster{Name: "plinth", State: "/s", HostPort: 16443}
	var kubelet map[string]any
	if err := yaml.Unmarshal([]byte(c.kubeletConfig()), &kubelet); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"failCgroupV1": false, "cgroupDriver": "cgroupfs", "cgroupRoot": "/plinth"} {
		if kubelet[k] != want {
			t.Errorf("kubelet %s = %v, want %v", k, kubelet[k], want)
		}
	}
	var proxy map[string]any
	if err := yaml.Unmarshal([]byte(c.kubeProxyConfig()), &proxy); err != nil {
		t.Fatal(err)
	}
	if proxy["mode"] != "iptables" {
		t.Errorf("kube-proxy mode %v", proxy["mode"])
	}
	var cni map[string]any
	if err := json.Unmarshal([]byte(c.cniConfig()), &cni); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.containerdConfig(), "restrict_oom_score_adj = true") {
		t.Error("containerd must not try to raise oom_score_adj")
	}
	var sc map[string]any
	if err := yaml.Unmarshal([]byte(storageClassYAML()), &sc); err != nil || sc["allowVolumeExpansion"] != true {
		t.Errorf("StorageClass: %v %v", sc, err)
	}
}
