package pluginregistry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
)

// Event reasons the registry records on manifest ConfigMaps.
const (
	ReasonPluginVersionValid   = "PluginVersionValid"
	ReasonPluginVersionInvalid = "PluginVersionInvalid"
)

// ValidationValid is the plinth.io/validation annotation of a valid version;
// an invalid one gets "invalid: <reason>".
const ValidationValid = "valid"

// maxAnnotation caps the reason written to the annotation and the Event.
const maxAnnotation = 4000

// Options configure a Registry.
type Options struct {
	// Namespace is the platform namespace (default plinth-system).
	Namespace string
	// Log receives one line per version (re)validated.
	Log logr.Logger
	// Resync re-lists the ConfigMaps periodically (default 10m).
	Resync time.Duration
	// IncompleteGrace is how long a version whose ConfigMaps are not all
	// there yet is left unreported (default 10s): kubectl apply creates
	// them one by one.
	IncompleteGrace time.Duration
}

// VersionKey names a plugin version.
type VersionKey struct{ Plugin, Version string }

func (k VersionKey) String() string { return k.Plugin + " " + k.Version }

// VersionStatus is what the registry knows about one plugin version.
type VersionStatus struct {
	Plugin  string
	Version string
	Valid   bool
	// Reason is why the version is invalid.
	Reason string
	Hash   string
}

type entry struct {
	pv          *PluginVersion
	err         error
	fingerprint string
}

// Registry serves the plugin versions found in the platform namespace. It is
// safe for concurrent use; Start runs it (a controller-runtime Runnable).
type Registry struct {
	client    kubernetes.Interface
	namespace string
	grace     time.Duration
	log       logr.Logger
	factory   informers.SharedInformerFactory
	informer  cache.SharedIndexInformer
	lister    corelisters.ConfigMapLister
	synced    cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[VersionKey]
	recorder  record.EventRecorder
	events    record.EventBroadcaster

	mu       sync.RWMutex
	entries  map[VersionKey]*entry
	accepted map[VersionKey]string // first accepted content hash per version
}

// New makes a Registry watching the ConfigMaps labelled plinth.io/plugin in
// the platform namespace.
func New(client kubernetes.Interface, opts Options) (*Registry, error) {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.Resync == 0 {
		opts.Resync = 10 * time.Minute
	}
	if opts.IncompleteGrace == 0 {
		opts.IncompleteGrace = 10 * time.Second
	}
	req, err := labels.NewRequirement(plinthv1.LabelPlugin, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	selector := labels.NewSelector().Add(*req).String()
	factory := informers.NewSharedInformerFactoryWithOptions(client, opts.Resync,
		informers.WithNamespace(opts.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	inf := factory.Core().V1().ConfigMaps()
	events := record.NewBroadcaster()
	r := &Registry{
		client:    client,
		namespace: opts.Namespace,
		grace:     opts.IncompleteGrace,
		log:       opts.Log,
		factory:   factory,
		informer:  inf.Informer(),
		lister:    inf.Lister(),
		synced:    inf.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[VersionKey](),
			workqueue.TypedRateLimitingQueueConfig[VersionKey]{Name: "pluginregistry"}),
		events:   events,
		recorder: events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "plinth-pluginregistry"}),
		entries:  map[VersionKey]*entry{},
		accepted: map[VersionKey]string{},
	}
	_, err = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.enqueue(obj) },
		UpdateFunc: func(old, obj any) { r.enqueue(old); r.enqueue(obj) },
		DeleteFunc: func(obj any) { r.enqueue(obj) },
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Registry) enqueue(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return
	}
	k := VersionKey{cm.Labels[plinthv1.LabelPlugin], cm.Labels[plinthv1.LabelPluginVersion]}
	if k.Plugin == "" || k.Version == "" {
		return
	}
	r.queue.Add(k)
}

// NeedLeaderElection lets every replica of a controller serve plugins.
func (r *Registry) NeedLeaderElection() bool { return false }

// Start runs the informer and the validation worker until ctx ends.
func (r *Registry) Start(ctx context.Context) error {
	r.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: r.client.CoreV1().Events(r.namespace)})
	defer r.events.Shutdown()
	defer r.queue.ShutDown()
	r.factory.Start(ctx.Done())
	defer r.factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), r.synced) {
		return ctx.Err()
	}
	go func() {
		<-ctx.Done()
		r.queue.ShutDown()
	}()
	for r.processNext(ctx) {
	}
	return nil
}

// Informer is the registry's informer over the plugin ConfigMaps (label
// plinth.io/plugin, platform namespace): a controller that reacts to plugin
// changes watches it (controller-runtime source.Informer) instead of opening
// a second watch on the same ConfigMaps. Start runs it.
func (r *Registry) Informer() cache.SharedIndexInformer { return r.informer }

// Pending says whether the platform namespace holds ConfigMaps of a version
// of plugin that the registry has not judged yet (it neither serves nor
// rejects it): its answers about plugin are then not final.
func (r *Registry) Pending(plugin string) (bool, error) {
	list, err := r.lister.ConfigMaps(r.namespace).List(labels.SelectorFromSet(labels.Set{plinthv1.LabelPlugin: plugin}))
	if err != nil {
		return false, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, cm := range list {
		if _, ok := r.entries[VersionKey{plugin, cm.Labels[plinthv1.LabelPluginVersion]}]; !ok {
			return true, nil
		}
	}
	return false, nil
}

// HasSynced reports whether the initial list has been loaded.
func (r *Registry) HasSynced() bool { return r.synced() }

// ReadyCheck is a readiness check (healthz.Checker) that fails until the
// registry has listed the plugin ConfigMaps once.
func (r *Registry) ReadyCheck(_ *http.Request) error {
	if r.synced == nil || !r.synced() {
		return errors.New("plugin registry has not synced yet")
	}
	return nil
}

func (r *Registry) processNext(ctx context.Context) bool {
	k, quit := r.queue.Get()
	if quit {
		return false
	}
	defer r.queue.Done(k)
	if err := r.sync(ctx, k); err != nil {
		r.log.Error(err, "syncing plugin version; retrying", "plugin", k.Plugin, "version", k.Version)
		r.queue.AddRateLimited(k)
		return true
	}
	r.queue.Forget(k)
	return true
}

// sync revalidates one version from the informer cache and reports the
// result on its manifest ConfigMap. Errors are only API errors (retried).
func (r *Registry) sync(ctx context.Context, k VersionKey) error {
	sel := labels.SelectorFromSet(labels.Set{plinthv1.LabelPlugin: k.Plugin, plinthv1.LabelPluginVersion: k.Version})
	list, err := r.lister.ConfigMaps(r.namespace).List(sel)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		r.mu.Lock()
		delete(r.entries, k)
		r.mu.Unlock()
		r.log.Info("plugin version removed", "plugin", k.Plugin, "version", k.Version)
		return nil
	}
	cms := make([]corev1.ConfigMap, len(list))
	for i, cm := range list {
		cms[i] = *cm
	}
	sort.Slice(cms, func(i, j int) bool { return cms[i].Name < cms[j].Name })
	fp := fingerprint(cms)
	r.mu.RLock()
	old := r.entries[k]
	r.mu.RUnlock()
	e := old
	if old == nil || old.fingerprint != fp {
		e = r.validate(k, cms, fp)
		r.mu.Lock()
		r.entries[k] = e
		r.mu.Unlock()
		var inc *InvalidError
		if errors.As(e.err, &inc) && inc.Incomplete {
			r.log.V(1).Info("plugin version is incomplete so far", "plugin", k.Plugin, "version", k.Version, "reason", e.err.Error())
		} else if e.err != nil {
			r.log.Info("plugin version is invalid", "plugin", k.Plugin, "version", k.Version, "reason", e.err.Error())
		} else {
			r.log.Info("plugin version is valid", "plugin", k.Plugin, "version", k.Version, "hash", e.pv.Hash)
		}
	}
	var inv *InvalidError
	if errors.As(e.err, &inv) && inv.Incomplete {
		if wait := r.grace - time.Since(newest(cms)); wait > 0 {
			r.queue.AddAfter(k, wait)
			return nil
		}
	}
	return r.report(ctx, k, cms, e)
}

// newest is the creation time of the most recent ConfigMap.
func newest(cms []corev1.ConfigMap) time.Time {
	var t time.Time
	for _, cm := range cms {
		if cm.CreationTimestamp.After(t) {
			t = cm.CreationTimestamp.Time
		}
	}
	return t
}

// validate builds a version and applies the immutability rules.
func (r *Registry) validate(k VersionKey, cms []corev1.ConfigMap, fp string) *entry {
	pv, err := Build(k.Plugin, k.Version, cms)
	if err == nil {
		err = checkDeclaredHash(cms)
	}
	if err != nil {
		return &entry{err: err, fingerprint: fp}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if first, ok := r.accepted[k]; ok && first != pv.Hash {
		return &entry{fingerprint: fp, err: fmt.Errorf("%w: %s %s was first accepted with content %s and now has %s; versions are immutable, publish the change as a new version",
			ErrContentChanged, k.Plugin, k.Version, first, pv.Hash)}
	}
	r.accepted[k] = pv.Hash
	return &entry{pv: pv, fingerprint: fp}
}

// fingerprint changes whenever anything Build looks at changes, but not
// when only the registry's own annotation does.
func fingerprint(cms []corev1.ConfigMap) string {
	var b strings.Builder
	b.WriteString(ContentHash(cms))
	for _, cm := range cms {
		fmt.Fprintf(&b, "|%s/%s/%v/%s/%s", cm.Name, cm.UID, cm.Immutable != nil && *cm.Immutable,
			cm.Labels[plinthv1.LabelPluginPart], cm.Annotations[AnnotationContentHash])
	}
	return b.String()
}

// report writes the validation annotation and an Event on the manifest
// ConfigMap when the outcome changed.
func (r *Registry) report(ctx context.Context, k VersionKey, cms []corev1.ConfigMap, e *entry) error {
	var manifest *corev1.ConfigMap
	for i := range cms {
		if cms[i].Labels[plinthv1.LabelPluginPart] == string(PartManifest) {
			manifest = &cms[i]
			break
		}
	}
	if manifest == nil {
		return nil // nothing to annotate; Get explains the missing manifest
	}
	want := ValidationValid
	if e.err != nil {
		want = truncate("invalid: "+e.err.Error(), maxAnnotation)
	}
	if manifest.Annotations[plinthv1.AnnotationPluginValidation] == want {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{plinthv1.AnnotationPluginValidation: want}}})
	if err != nil {
		return err
	}
	if _, err := r.client.CoreV1().ConfigMaps(r.namespace).Patch(ctx, manifest.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("annotating %s: %w", manifest.Name, err)
	}
	if e.err != nil {
		r.recorder.Event(manifest, corev1.EventTypeWarning, ReasonPluginVersionInvalid, truncate(e.err.Error(), maxAnnotation))
	} else {
		r.recorder.Eventf(manifest, corev1.EventTypeNormal, ReasonPluginVersionValid, "plugin %s %s is valid (%s)", k.Plugin, k.Version, e.pv.Hash)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// Get returns a valid plugin version, or an error saying why it cannot be
// used: unknown (wraps ErrNotFound), invalid (*InvalidError), or changed
// under the same name (wraps ErrContentChanged).
func (r *Registry) Get(plugin, version string) (*PluginVersion, error) {
	r.mu.RLock()
	e := r.entries[VersionKey{plugin, version}]
	r.mu.RUnlock()
	if e == nil {
		known := r.Versions(plugin)
		if len(known) == 0 {
			return nil, fmt.Errorf("%w: plugin %s has no valid version in namespace %s", ErrNotFound, plugin, r.namespace)
		}
		return nil, fmt.Errorf("%w: plugin %s has no version %s in namespace %s (valid versions: %s)", ErrNotFound, plugin, version, r.namespace, strings.Join(known, ", "))
	}
	if e.err != nil {
		return nil, e.err
	}
	return e.pv, nil
}

// Versions lists the valid versions of a plugin, in semver order.
func (r *Registry) Versions(plugin string) []string {
	r.mu.RLock()
	var out []string
	for k, e := range r.entries {
		if k.Plugin == plugin && e.err == nil {
			out = append(out, k.Version)
		}
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, errA := semver.NewVersion(out[i])
		b, errB := semver.NewVersion(out[j])
		if errA != nil || errB != nil {
			return out[i] < out[j]
		}
		return a.LessThan(b)
	})
	return out
}

// Status lists every version the registry has seen, valid or not.
func (r *Registry) Status() []VersionStatus {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []VersionStatus
	for k, e := range r.entries {
		s := VersionStatus{Plugin: k.Plugin, Version: k.Version, Valid: e.err == nil}
		if e.err != nil {
			s.Reason = e.err.Error()
		} else {
			s.Hash = e.pv.Hash
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Plugin != out[j].Plugin {
			return out[i].Plugin < out[j].Plugin
		}
		return out[i].Version < out[j].Version
	})
	return out
}

// CanUpgradePlugin looks both versions up and applies CanUpgradePlugin.
func (r *Registry) CanUpgradePlugin(plugin, from, to string) error {
	f, err := r.Get(plugin, from)
	if err != nil {
		return err
	}
	t, err := r.Get(plugin, to)
	if err != nil {
		return err
	}
	return CanUpgradePlugin(f, t)
}

// CanUpgradeMiddleware looks the version up and applies CanUpgradeMiddleware.
func (r *Registry) CanUpgradeMiddleware(plugin, pluginVersion, from, to string) error {
	pv, err := r.Get(plugin, pluginVersion)
	if err != nil {
		return err
	}
	return CanUpgradeMiddleware(pv, from, to)
}

// IsNotFound reports whether err says a plugin version is unknown.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
