package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Image naming scheme (docs/local-cluster.md):
//
//   - middleware images mirror the official ones under mirrorPrefix:
//     docker.io/library/redis:7.0 is served as localhost/plinth-mirror/redis:7.0;
//     the controllers' --image-rewrite docker.io/library/=localhost/plinth-mirror/
//     maps one to the other;
//   - the cluster's own images live under localhost/plinth/.
const (
	mirrorPrefix   = "localhost/plinth-mirror/"
	officialPrefix = "docker.io/library/"
	pauseImage     = "localhost/plinth/pause:1.0"
	plinthImage    = "localhost/plinth/plinth:dev"
)

// debianRecipe is one Debian root filesystem; several images share it as
// their only layer (containerd stores it once).
type debianRecipe struct {
	release  string
	packages []string
	images   []debianImage
}

type debianImage struct {
	ref    string // local name
	verify string // shell command that must print want
	want   string
	config imageConfig
}

// imageConfig is the part of an OCI image config the images set.
type imageConfig struct {
	User       string            `json:"User,omitempty"`
	Env        []string          `json:"Env,omitempty"`
	Entrypoint []string          `json:"Entrypoint,omitempty"`
	Cmd        []string          `json:"Cmd,omitempty"`
	WorkingDir string            `json:"WorkingDir,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

const debianPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func redisImage(tag string) debianImage {
	return debianImage{
		ref: mirrorPrefix + "redis:" + tag, verify: "redis-server --version", want: "v=" + tag + ".",
		config: imageConfig{
			Env: []string{"PATH=" + debianPath}, WorkingDir: "/data",
			// Debian's redis-server keeps protected mode on; the official image
			// is built with it off, so a plain "redis-server" accepts clients.
			Cmd: []string{"redis-server", "--protected-mode", "no"},
		},
	}
}

func postgresImage(major string) debianImage {
	return debianImage{
		ref: mirrorPrefix + "postgres:" + major, verify: "/usr/lib/postgresql/" + major + "/bin/postgres --version", want: "(PostgreSQL) " + major + ".",
		config: imageConfig{
			Env: []string{
				"PATH=/usr/lib/postgresql/" + major + "/bin:" + debianPath,
				"PG_MAJOR=" + major, "PGDATA=/var/lib/postgresql/data", "LANG=C.UTF-8",
			},
			Entrypoint: []string{"docker-entrypoint.sh"},
			Cmd:        []string{"postgres"},
		},
	}
}

var debianRecipes = []debianRecipe{
	{release: "bookworm", packages: []string{"redis-server", "postgresql-15"}, images: []debianImage{redisImage("7.0"), postgresImage("15")}},
	{release: "trixie", packages: []string{"redis-server", "postgresql-17"}, images: []debianImage{redisImage("8.0"), postgresImage("17")}},
}

// imageNames lists every image "images build" knows, in build order.
func imageNames() []string {
	names := []string{pauseImage}
	for _, r := range debianRecipes {
		for _, i := range r.images {
			names = append(names, i.ref)
		}
	}
	return append(names, plinthImage)
}

// resolveImage accepts a full local name, a short one (redis:7.0, pause,
// plinth) or an official one (docker.io/library/redis:7.0).
func resolveImage(name string) (string, error) {
	for _, n := range imageNames() {
		short := strings.TrimPrefix(strings.TrimPrefix(n, mirrorPrefix), "localhost/plinth/")
		if name == n || name == short || name == strings.Split(short, ":")[0] && !strings.Contains(name, ":") && (n == pauseImage || n == plinthImage) || name == officialPrefix+short {
			return n, nil
		}
	}
	return "", fmt.Errorf("unknown image %q; known: %s", name, strings.Join(imageNames(), ", "))
}

// imageArchive is the cached docker-archive of a Debian or pause image. The
// Plinth image is rebuilt from the working tree each time (see buildPlinth).
func (c *Cluster) imageArchive(ref string) string {
	switch ref {
	case pauseImage:
		src, _ := os.ReadFile(filepath.Join(c.Root, "hack", "local-cluster", "pause", "main.go"))
		return filepath.Join(c.Cache, "images", "pause-"+recipeHash("pause", string(src))+".tar")
	case plinthImage:
		// Built from the working tree: per checkout, not machine-wide.
		return filepath.Join(c.Root, "bin", "images", "plinth.tar")
	}
	r, _ := recipeFor(ref)
	return filepath.Join(c.Cache, "images", r.release+"-"+c.recipeHash(r)+".tar")
}

func recipeFor(ref string) (debianRecipe, bool) {
	for _, r := range debianRecipes {
		for _, i := range r.images {
			if i.ref == ref {
				return r, true
			}
		}
	}
	return debianRecipe{}, false
}

func recipeHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// recipeHash keys the cached root filesystem and archive of a recipe: the
// release, packages, image configs and the scripts that build it.
func (c *Cluster) recipeHash(r debianRecipe) string {
	b, _ := json.Marshal(r.images)
	parts := []string{r.release, string(b)}
	for _, f := range []string{"rootfs.sh", "postgres-entrypoint.sh"} {
		data, _ := os.ReadFile(filepath.Join(c.Root, "hack", "local-cluster", f))
		parts = append(parts, string(data))
	}
	return recipeHash(append(parts, r.packages...)...)
}

func (c *Cluster) rootfsScript() string {
	return filepath.Join(c.Root, "hack", "local-cluster", "rootfs.sh")
}

// buildImage makes sure the archive holding ref exists and returns its path.
func (c *Cluster) buildImage(ref string) (string, error) {
	out := c.imageArchive(ref)
	if ref != plinthImage {
		if _, err := os.Stat(out); err == nil {
			return out, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	if ref != plinthImage {
		// A machine-wide archive: another checkout may be building it now.
		unlock, err := lockPath(out)
		if err != nil {
			return "", err
		}
		defer unlock()
		if _, err := os.Stat(out); err == nil {
			return out, nil
		}
	}
	start := time.Now()
	var err error
	switch ref {
	case pauseImage:
		err = c.buildPause(out)
	case plinthImage:
		err = c.buildPlinth(out)
	default:
		r, _ := recipeFor(ref)
		err = c.buildDebian(r, out)
	}
	if err != nil {
		return "", fmt.Errorf("building %s: %w", ref, err)
	}
	logf("built %s in %.1fs (%s)", ref, time.Since(start).Seconds(), out)
	return out, nil
}

func goBuild(root, out string, pkgs ...string) error {
	cmd := exec.Command("go", append([]string{"build", "-trimpath", "-ldflags=-s -w", "-o", out}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v: %s", strings.Join(pkgs, " "), err, trimLines(b))
	}
	return nil
}

func (c *Cluster) buildPause(out string) error {
	dir, err := os.MkdirTemp(filepath.Dir(out), ".pause-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := goBuild(c.Root, filepath.Join(dir, "pause"), "./hack/local-cluster/pause"); err != nil {
		return err
	}
	layer := filepath.Join(dir, "layer.tar")
	if err := writeLayer(layer, []layerFile{{name: "pause", src: filepath.Join(dir, "pause"), mode: 0o755}}); err != nil {
		return err
	}
	return writeArchive(out, layer, []archiveImage{{ref: pauseImage, config: imageConfig{Entrypoint: []string{"/pause"}, User: "65535:65535"}}})
}

// mainPackages lists the repository's commands that go into the Plinth image.
func (c *Cluster) mainPackages() ([]string, error) {
	cmd := exec.Command("go", "list", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`, "./...")
	cmd.Dir = c.Root
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	const mod = "github.com/plinth-io/plinth/"
	var pkgs []string
	for _, p := range strings.Fields(string(b)) {
		rel := strings.TrimPrefix(p, mod)
		for _, dir := range []string{"controllers/", "agents/", "procmgr", "cmd/"} {
			if strings.HasPrefix(rel, dir) {
				pkgs = append(pkgs, rel)
				break
			}
		}
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("no commands under controllers/, agents/, procmgr/ or cmd/")
	}
	return pkgs, nil
}

// binaryName names a command in the Plinth image:
// controllers/application -> plinth-application-controller,
// agents/status -> plinth-status-agent, procmgr -> plinth-procmgr,
// cmd/NAME -> NAME (cmd/ is for commands that choose their own name).
func binaryName(rel string) string {
	parts := strings.Split(rel, "/")
	switch {
	case parts[0] == "controllers" && len(parts) == 2:
		return "plinth-" + parts[1] + "-controller"
	case parts[0] == "agents" && len(parts) == 2:
		return "plinth-" + parts[1] + "-agent"
	case parts[0] == "cmd" && len(parts) >= 2:
		return parts[len(parts)-1]
	}
	return "plinth-" + strings.Join(parts, "-")
}

func (c *Cluster) buildPlinth(out string) error {
	pkgs, err := c.mainPackages()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(filepath.Dir(out), ".plinth-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files := []layerFile{
		{name: "etc/passwd", data: "root:x:0:0:root:/root:/sbin/nologin\nplinth:x:65532:65532:plinth:/home/plinth:/sbin/nologin\n", mode: 0o644},
		{name: "etc/group", data: "root:x:0:\nplinth:x:65532:\n", mode: 0o644},
		{name: "tmp/", mode: 0o1777},
		{name: "home/plinth/", mode: 0o755, uid: 65532},
	}
	// One go build for all commands links them in parallel; it names each
	// output after its folder, so fall back to one build each on a clash.
	byBase := map[string]bool{}
	for _, p := range pkgs {
		byBase[filepath.Base(p)] = true
	}
	if len(byBase) == len(pkgs) {
		args := []string{"./" + pkgs[0]}
		for _, p := range pkgs[1:] {
			args = append(args, "./"+p)
		}
		if err := goBuild(c.Root, dir+"/", args...); err != nil {
			return err
		}
	} else {
		for _, p := range pkgs {
			if err := goBuild(c.Root, filepath.Join(dir, filepath.Base(p)), "./"+p); err != nil {
				return err
			}
		}
	}
	var names []string
	for _, p := range pkgs {
		name := binaryName(p)
		files = append(files, layerFile{name: "usr/local/bin/" + name, src: filepath.Join(dir, filepath.Base(p)), mode: 0o755})
		names = append(names, name)
	}
	layer := filepath.Join(dir, "layer.tar")
	if err := writeLayer(layer, files); err != nil {
		return err
	}
	logf("Plinth image commands: %s", strings.Join(names, " "))
	return writeArchive(out, layer, []archiveImage{{ref: plinthImage, config: imageConfig{
		User: "65532:65532", Env: []string{"PATH=/usr/local/bin"},
		Labels: map[string]string{"io.plinth.commands": strings.Join(names, ",")},
	}}})
}

func (c *Cluster) buildDebian(r debianRecipe, out string) error {
	layer := filepath.Join(c.Cache, "rootfs", r.release+"-"+c.recipeHash(r)+".tar")
	if err := os.MkdirAll(filepath.Dir(layer), 0o755); err != nil {
		return err
	}
	// Two checkouts building the same root filesystem at once: the second
	// waits for the first and uses its result.
	unlock, err := lockPath(layer)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(layer); err != nil {
		logf("building the Debian %s root filesystem (first time on this machine: one to several minutes)", r.release)
		cmd := exec.Command(c.rootfsScript(), append([]string{r.release, layer}, r.packages...)...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", c.rootfsScript(), err)
		}
	}
	versions, _ := os.ReadFile(layer + ".packages")
	var imgs []archiveImage
	for _, i := range r.images {
		if err := checkVersion(layer, i); err != nil {
			return err
		}
		cfg := i.config
		cfg.Labels = map[string]string{"io.plinth.debian-release": r.release, "io.plinth.mirrors": officialPrefix + strings.TrimPrefix(i.ref, mirrorPrefix)}
		for _, line := range strings.Split(string(versions), "\n") {
			for _, p := range r.packages {
				if strings.HasPrefix(line, p+"=") {
					cfg.Labels["io.plinth.package."+p] = strings.TrimPrefix(line, p+"=")
				}
			}
		}
		imgs = append(imgs, archiveImage{ref: i.ref, config: cfg})
	}
	return writeArchive(out, layer, imgs)
}

// lockPath takes an exclusive lock on path+".lock" (the same lock the
// hack/*.sh scripts take through hack/lib/cache.sh), waiting for whoever holds
// it; unlock releases it.
func lockPath(path string) (unlock func(), err error) {
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		logf("waiting for another build of %s", path)
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			lock.Close()
			return nil, fmt.Errorf("locking %s: %w", lock.Name(), err)
		}
	}
	return func() { lock.Close() }, nil
}

// checkVersion makes sure the packages Debian installed match the tag: the
// mirror serves whatever the release has now, so a wrong major version fails
// the build instead of silently mislabelling the image.
func checkVersion(layer string, i debianImage) error {
	b, err := os.ReadFile(layer + ".packages")
	if err != nil {
		return err
	}
	pkg := "redis-server="
	if strings.Contains(i.ref, "postgres") {
		pkg = "postgresql-" + strings.TrimPrefix(i.want, "(PostgreSQL) ")
		pkg = strings.TrimSuffix(pkg, ".") + "="
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, pkg) {
			continue
		}
		v := strings.TrimPrefix(line, pkg)
		if _, after, ok := strings.Cut(v, ":"); ok { // epoch
			v = after
		}
		want := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(i.want, "v="), "(PostgreSQL) "), ".")
		if v == want || strings.HasPrefix(v, want+".") || strings.HasPrefix(v, want+"-") || strings.HasPrefix(v, want+"+") || strings.HasPrefix(v, want+"~") {
			return nil
		}
		return fmt.Errorf("%s: Debian installed %s%s, not %s", i.ref, pkg, v, want)
	}
	return fmt.Errorf("%s: package %s is not in the root filesystem", i.ref, strings.TrimSuffix(pkg, "="))
}

type layerFile struct {
	name string // path inside the image; a trailing / makes a folder
	src  string // file to copy, or
	data string // content
	mode int64
	uid  int
}

// writeLayer writes a layer tar holding files (and their parent folders).
func writeLayer(path string, files []layerFile) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	dirs := map[string]bool{}
	mtime := time.Unix(0, 0)
	addDirs := func(p string) error {
		parts := strings.Split(strings.Trim(p, "/"), "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/") + "/"
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: mtime}); err != nil {
				return err
			}
		}
		return nil
	}
	for _, lf := range files {
		if err := addDirs(lf.name); err != nil {
			return err
		}
		if strings.HasSuffix(lf.name, "/") {
			dirs[lf.name] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: lf.name, Mode: lf.mode, Uid: lf.uid, Gid: lf.uid, ModTime: mtime}); err != nil {
				return err
			}
			continue
		}
		data := []byte(lf.data)
		if lf.src != "" {
			if data, err = os.ReadFile(lf.src); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: lf.name, Mode: lf.mode, Size: int64(len(data)), Uid: lf.uid, Gid: lf.uid, ModTime: mtime}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	return tw.Close()
}

type archiveImage struct {
	ref    string
	config imageConfig
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeArchive writes a docker-archive (the "docker save" format that
// "ctr images import" reads) holding one layer and one config per image.
func writeArchive(out, layer string, imgs []archiveImage) error {
	diffID, err := fileSHA256(layer)
	if err != nil {
		return err
	}
	layerName := diffID + "/layer.tar"
	type manifestEntry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var manifest []manifestEntry
	configs := map[string][]byte{}
	for _, img := range imgs {
		cfg, err := json.Marshal(map[string]any{
			"architecture": "amd64",
			"os":           "linux",
			"created":      "1970-01-01T00:00:00Z",
			"config":       img.config,
			"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + diffID}},
			"history":      []map[string]string{{"created": "1970-01-01T00:00:00Z", "created_by": "plinth local-cluster images"}},
		})
		if err != nil {
			return err
		}
		sum := sha256.Sum256(cfg)
		name := hex.EncodeToString(sum[:]) + ".json"
		configs[name] = cfg
		manifest = append(manifest, manifestEntry{Config: name, RepoTags: []string{img.ref}, Layers: []string{layerName}})
	}
	mb, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	// A unique temporary name beside out, renamed into place: two checkouts
	// writing the same cached archive never share a file, and a reader never
	// sees half an archive.
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	defer f.Close()
	tw := tar.NewWriter(f)
	put := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: diffID + "/", Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	lf, err := os.Open(layer)
	if err != nil {
		return err
	}
	st, _ := lf.Stat()
	if err := tw.WriteHeader(&tar.Header{Name: layerName, Mode: 0o644, Size: st.Size(), ModTime: time.Unix(0, 0)}); err != nil {
		lf.Close()
		return err
	}
	_, err = io.Copy(tw, lf)
	lf.Close()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(configs))
	for n := range configs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := put(n, configs[n]); err != nil {
			return err
		}
	}
	if err := put("manifest.json", mb); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// importImage loads the archive holding ref into the cluster's containerd.
func (c *Cluster) importImage(ref, archive string) error {
	sock := c.path("containerd/containerd.sock")
	if _, err := os.Stat(sock); err != nil {
		return fmt.Errorf("the cluster is not up (no containerd socket %s): run local-cluster up", sock)
	}
	// An archive this cluster has already imported (same path, size and
	// time) is skipped: re-running make sandbox does not re-import 400 MB.
	st, err := os.Stat(archive)
	if err != nil {
		return err
	}
	marker := c.path("loaded", fmt.Sprintf("%x", sha256.Sum256([]byte(fmt.Sprintf("%s %d %d", archive, st.Size(), st.ModTime().UnixNano())))))
	if _, err := os.Stat(marker); err == nil {
		logf("%s is already loaded", ref)
		return nil
	}
	start := time.Now()
	if err := run("ctr", "--address", sock, "-n", "k8s.io", "images", "import", archive); err != nil {
		return fmt.Errorf("importing %s: %w", ref, err)
	}
	if err := os.MkdirAll(filepath.Dir(marker), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(marker, []byte(archive+"\n"), 0o644); err != nil {
		return err
	}
	logf("loaded %s into the cluster in %.1fs", ref, time.Since(start).Seconds())
	return nil
}
