package workloadset

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/imagerewrite"
	"github.com/plinth-io/plinth/internal/skeleton"
	"github.com/plinth-io/plinth/internal/ssa"
)

// Requeue intervals.
const (
	// waitForTerminatingRecheck: a pod or PVC is going away and nothing
	// else will announce it (its deletion event does, but not always for PVCs
	// held by a pod's protection finalizer).
	waitForTerminatingRecheck = 5 * time.Second
	// expansionRecheck: a PVC resize is in progress on the storage side.
	expansionRecheck = 30 * time.Second
	// nameClashRecheck: a PVC that is not ours holds a name we need; its
	// removal sends us no event (it lacks our label).
	nameClashRecheck = 30 * time.Second
	// switchoverRecheck: the Switchover hook is not done yet.
	switchoverRecheck = 5 * time.Second
)

// Switchover moves the writable role away from a pod before a rolling update
// replaces it. AgentSwitchover runs the plugin's switchover actions; without
// a Switchover the writable pod is simply replaced last.
type Switchover interface {
	// Prepare is called before pod, which holds the writable role, is
	// deleted for an update; members is what the reconcile observed. It
	// returns true when the pod may be replaced now; false requeues and asks
	// again. It must return within the reconcile's deadline.
	Prepare(ctx context.Context, ws *plinthv1.WorkloadSet, pod *corev1.Pod, members []plinthv1.MemberStatus) (bool, error)
}

// Reconciler makes a WorkloadSet's Pods and PVCs match its spec and reports
// what it observes in its status.
type Reconciler struct {
	client     client.Client
	apiReader  client.Reader
	status     ssa.Applier
	images     imagerewrite.Rules
	switchover Switchover
	recorder   events.EventRecorder
	now        func() time.Time
	// pass is the skeleton running the phases (see controller).
	pass *skeleton.Controller[*plinthv1.WorkloadSet, *scope]
	// reports is the report bookkeeping kept in memory (see reportBook).
	reports *reportBook
}

// pvcToWorkloadSet maps a PVC to the WorkloadSet named in its label.
func pvcToWorkloadSet(_ context.Context, o client.Object) []reconcile.Request {
	name, ok := o.GetLabels()[plinthv1.LabelWorkloadSet]
	if !ok || name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
}

// scope is one reconcile's view of a WorkloadSet and its children.
type scope struct {
	ws     *plinthv1.WorkloadSet
	before plinthv1.WorkloadSetStatus
	log    logr.Logger
	now    time.Time
	rev    string
	// desired is the number of pods that should run (0 when stopped).
	desired int
	pods    map[int]*corev1.Pod
	pvcs    map[string]*corev1.PersistentVolumeClaim
	members map[string]*plinthv1.MemberStatus
	// reports is the WorkloadSet's report bookkeeping after this reconcile's
	// judgements, put back in the book once the status is written.
	reports workloadSetReports
	// observed is true once pods and reports were read.
	observed bool
	// deleting: the WorkloadSet is being deleted; no status is written.
	deleting bool
	// invalid holds the spec problem, if any.
	invalid error
	// writers are the members reporting the writable role, healthy.
	writers []string
	// progress says what is being done or waited for, for the conditions.
	progress []string
}

func (s *scope) progressing(format string, args ...any) {
	s.progress = append(s.progress, fmt.Sprintf(format, args...))
}

// controller is the workloadset reconciler on the shared skeleton: it
// fetches the WorkloadSet, runs the phases in this order and writes the
// status once at the end.
func (r *Reconciler) controller() *skeleton.Controller[*plinthv1.WorkloadSet, *scope] {
	return &skeleton.Controller[*plinthv1.WorkloadSet, *scope]{
		Client: r.client,
		New:    func() *plinthv1.WorkloadSet { return &plinthv1.WorkloadSet{} },
		Gone:   r.reports.forget,
		Scope:  r.newScope,
		Phases: []skeleton.Phase[*scope]{
			{Name: "deletion", Run: r.handleDeletion},
			{Name: "observe", Run: r.observe},
			{Name: "designate", Run: r.designate},
			{Name: "role-labels", Run: r.syncRoleLabels},
			{Name: "topology-annotations", Run: r.syncTopologyAnnotations},
			{Name: "validate", Run: r.validate},
			{Name: "finalizer", Run: r.syncFinalizer},
			{Name: "pvcs", Run: r.ensurePVCs},
			{Name: "expand-volumes", Run: r.expandVolumes},
			{Name: "replace-failed-pods", Run: r.replaceFailedPods},
			{Name: "scale-in", Run: r.scaleIn},
			{Name: "create-pods", Run: r.createPods},
			{Name: "release-pvcs", Run: r.deleteReleasedPVCs},
			{Name: "roll-out", Run: r.rollOut},
		},
		WriteStatus: r.writeStatus,
	}
}

// Reconcile runs one pass (see controller).
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	return r.pass.Reconcile(ctx, req)
}

func (r *Reconciler) newScope(ctx context.Context, ws *plinthv1.WorkloadSet) (*scope, error) {
	s := &scope{
		ws:      ws,
		before:  *ws.Status.DeepCopy(),
		log:     ctrl.LoggerFrom(ctx),
		now:     r.now(),
		rev:     revision(&ws.Spec.Template),
		desired: int(ws.Spec.Replicas),
	}
	if ws.Spec.Stopped {
		s.desired = 0
	}
	return s, nil
}

// handleDeletion ends the pass of a WorkloadSet being deleted: its PVCs go
// when its finalizer asks for it; no status is written.
func (r *Reconciler) handleDeletion(ctx context.Context, s *scope) (skeleton.Result, error) {
	if s.ws.DeletionTimestamp == nil {
		return skeleton.Result{}, nil
	}
	s.deleting = true
	r.reports.forget(client.ObjectKeyFromObject(s.ws))
	return skeleton.StopJudged(), r.reconcileDelete(ctx, s.log, s.ws)
}

// observe lists the pods and PVCs of the WorkloadSet and judges new reports.
func (r *Reconciler) observe(ctx context.Context, s *scope) (skeleton.Result, error) {
	ws := s.ws
	sel := client.MatchingLabels{plinthv1.LabelWorkloadSet: ws.Name}
	var pods corev1.PodList
	if err := r.client.List(ctx, &pods, client.InNamespace(ws.Namespace), sel); err != nil {
		return skeleton.Result{}, fmt.Errorf("listing pods: %w", err)
	}
	var pvcs corev1.PersistentVolumeClaimList
	if err := r.client.List(ctx, &pvcs, client.InNamespace(ws.Namespace), sel); err != nil {
		return skeleton.Result{}, fmt.Errorf("listing PVCs: %w", err)
	}
	s.pods = map[int]*corev1.Pod{}
	for i := range pods.Items {
		pod := &pods.Items[i]
		ref := metav1.GetControllerOf(pod)
		n, ok := ordinalOf(ws, pod.Name)
		if ref == nil || ref.UID != ws.UID || !ok {
			continue
		}
		s.pods[n] = pod
	}
	s.pvcs = map[string]*corev1.PersistentVolumeClaim{}
	for i := range pvcs.Items {
		s.pvcs[pvcs.Items[i].Name] = &pvcs.Items[i]
	}

	book, known := r.reports.get(client.ObjectKeyFromObject(ws), ws.UID)
	if !known {
		// First reconcile since the controller started: start from the
		// persisted status.
		book = workloadSetReports{uid: ws.UID, rejected: ws.Status.RejectedReports, published: ws.Status.RejectedReports}
	}
	prev := map[string]*plinthv1.MemberStatus{}
	for i := range ws.Status.Members {
		prev[ws.Status.Members[i].Name] = &ws.Status.Members[i]
	}
	s.reports = workloadSetReports{uid: ws.UID, rejected: book.rejected, published: book.published, publishedAt: book.publishedAt, pods: map[types.UID]reportState{}}
	publish := false
	s.members = map[string]*plinthv1.MemberStatus{}
	for _, pod := range s.pods {
		st, ok := book.pods[pod.UID]
		if !ok && !known {
			st = restoreReportState(prev[pod.Name], pod.UID)
		}
		m, st, rejected := observeMember(st, pod, s.rev, ws, s.now)
		if rejected != nil {
			s.reports.rejected++
			if st.allowRejection(s.now) {
				publish = true
				s.log.Info("ignoring the status report of a pod", "pod", pod.Name, "reason", rejected.Error(), "rejectedReports", s.reports.rejected)
			}
		}
		s.reports.pods[pod.UID] = st
		s.members[pod.Name] = &m
	}
	// The count of rate-limited rejections catches up at most every
	// rejectEvery (see allowRejection).
	next := nextStaleness(memberList(s), heartbeat(ws), s.now)
	if s.reports.published != s.reports.rejected {
		if wait := s.reports.publishedAt.Add(rejectEvery).Sub(s.now); publish || wait <= 0 {
			s.reports.published, s.reports.publishedAt = s.reports.rejected, s.now
		} else if next == 0 || wait < next {
			next = wait
		}
	}
	ws.Status.RejectedReports = s.reports.published
	s.observed = true
	// Come back when the next member's report goes stale (or the rejected
	// count is due).
	return skeleton.Requeue(next), nil
}

// syncRoleLabels copies each member's role into its pod's role label (see
// roleLabel for the one exception), in the order of roleLabelChanges.
func (r *Reconciler) syncRoleLabels(ctx context.Context, s *scope) (skeleton.Result, error) {
	var changes []roleLabelChange
	for _, n := range sortedOrdinals(s.pods) {
		pod := s.pods[n]
		if role := roleLabel(s, pod); pod.DeletionTimestamp == nil && pod.Labels[plinthv1.LabelRole] != role {
			changes = append(changes, roleLabelChange{Pod: pod, From: pod.Labels[plinthv1.LabelRole], To: role})
		}
	}
	for _, c := range orderRoleLabelChanges(changes, writableRole(s.ws)) {
		s.log.Info("setting the role label of a pod", "pod", c.Pod.Name, "from", c.From, "to", c.To)
		patch := fmt.Appendf(nil, `{"metadata":{"labels":{%q:%q}}}`, plinthv1.LabelRole, c.To)
		if err := r.client.Patch(ctx, c.Pod, client.RawPatch(types.MergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
			// Stop: a pod gaining the writable role must not be
			// labelled while the one losing it still is.
			return skeleton.Result{}, fmt.Errorf("labelling pod %s with role %s: %w", c.Pod.Name, c.To, err)
		}
	}
	return skeleton.Result{}, nil
}

// validate stops at a spec the API server accepted but that cannot work; the
// error is terminal: only a spec change is worth another try.
func (r *Reconciler) validate(_ context.Context, s *scope) (skeleton.Result, error) {
	if err := validate(s.ws); err != nil {
		s.invalid = err
		s.log.Info("not reconciling an invalid WorkloadSet", "reason", err.Error())
		return skeleton.Invalid(err)
	}
	return skeleton.Result{}, nil
}

// syncFinalizer keeps the PVC finalizer exactly while PVCs must be deleted
// with the WorkloadSet.
func (r *Reconciler) syncFinalizer(ctx context.Context, s *scope) (skeleton.Result, error) {
	want := deletePVCsWhenDeleted(s.ws)
	if want == controllerutil.ContainsFinalizer(s.ws, plinthv1.FinalizerWorkloadSetPVCs) {
		return skeleton.Result{}, nil
	}
	// Patch a copy: the response would overwrite the status gathered so far.
	obj := s.ws.DeepCopy()
	orig := obj.DeepCopy()
	if want {
		s.log.Info("adding the PVC finalizer (pvcRetention.whenDeleted is Delete)")
		controllerutil.AddFinalizer(obj, plinthv1.FinalizerWorkloadSetPVCs)
	} else {
		s.log.Info("removing the PVC finalizer (pvcRetention.whenDeleted is Retain)")
		controllerutil.RemoveFinalizer(obj, plinthv1.FinalizerWorkloadSetPVCs)
	}
	if err := r.client.Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return skeleton.Result{}, fmt.Errorf("updating finalizers: %w", err)
	}
	s.ws.Finalizers, s.ws.ResourceVersion = obj.Finalizers, obj.ResourceVersion
	return skeleton.Result{}, nil
}

func deletePVCsWhenDeleted(ws *plinthv1.WorkloadSet) bool {
	return ws.Spec.PVCRetention != nil && ws.Spec.PVCRetention.WhenDeleted == plinthv1.PVCDelete
}

func deletePVCsWhenScaled(ws *plinthv1.WorkloadSet) bool {
	return ws.Spec.PVCRetention != nil && ws.Spec.PVCRetention.WhenScaled == plinthv1.PVCDelete
}

// reconcileDelete deletes the PVCs of a WorkloadSet being deleted when its
// finalizer asks for it, then removes the finalizer. It does not wait for the
// PVCs to disappear (their protection finalizer waits for the pods, which the
// garbage collector removes).
func (r *Reconciler) reconcileDelete(ctx context.Context, log logr.Logger, ws *plinthv1.WorkloadSet) error {
	if !controllerutil.ContainsFinalizer(ws, plinthv1.FinalizerWorkloadSetPVCs) {
		return nil
	}
	var pvcs corev1.PersistentVolumeClaimList
	if err := r.client.List(ctx, &pvcs, client.InNamespace(ws.Namespace), client.MatchingLabels{plinthv1.LabelWorkloadSet: ws.Name}); err != nil {
		return fmt.Errorf("listing PVCs: %w", err)
	}
	for i := range pvcs.Items {
		pvc := &pvcs.Items[i]
		if pvc.DeletionTimestamp != nil {
			continue
		}
		log.Info("deleting a PVC of a deleted WorkloadSet (pvcRetention.whenDeleted is Delete)", "pvc", pvc.Name)
		if err := r.client.Delete(ctx, pvc); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting PVC %s: %w", pvc.Name, err)
		}
	}
	log.Info("removing the PVC finalizer: every PVC is being deleted")
	orig := ws.DeepCopy()
	controllerutil.RemoveFinalizer(ws, plinthv1.FinalizerWorkloadSetPVCs)
	if err := r.client.Patch(ctx, ws, client.MergeFrom(orig)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing the PVC finalizer: %w", err)
	}
	return nil
}

// ensurePVCs creates the missing PVCs of the pods that should run.
func (r *Reconciler) ensurePVCs(ctx context.Context, s *scope) (skeleton.Result, error) {
	var res skeleton.Result
	for n := 0; n < s.desired; n++ {
		for i := range s.ws.Spec.VolumeClaimTemplates {
			want := desiredPVC(s.ws, &s.ws.Spec.VolumeClaimTemplates[i], n)
			if _, ok := s.pvcs[want.Name]; ok {
				continue
			}
			s.log.Info("creating a PVC", "pvc", want.Name, "size", want.Spec.Resources.Requests.Storage().String())
			err := r.client.Create(ctx, want)
			if apierrors.IsAlreadyExists(err) {
				// Not in our list: our cache is behind, or the name is taken
				// by a claim that is not ours (never mount someone else's data).
				got := &corev1.PersistentVolumeClaim{}
				if err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(want), got); err != nil {
					return skeleton.Result{}, fmt.Errorf("reading PVC %s: %w", want.Name, err)
				}
				if owner := got.Labels[plinthv1.LabelWorkloadSet]; owner != s.ws.Name {
					s.progressing("PVC %s already exists and does not belong to this WorkloadSet (label %s=%q): rename the volume template or the WorkloadSet, or remove that PVC", want.Name, plinthv1.LabelWorkloadSet, owner)
					res = skeleton.Requeue(nameClashRecheck)
					continue
				}
				want = got
			} else if err != nil {
				return skeleton.Result{}, fmt.Errorf("creating PVC %s: %w", want.Name, err)
			}
			s.pvcs[want.Name] = want
		}
	}
	return res, nil
}

// replaceFailedPods deletes pods that ended (Failed, for example evicted
// under node pressure, or Succeeded): a pod never leaves those phases, so it
// is deleted and createPods makes it again with the same name and PVCs.
func (r *Reconciler) replaceFailedPods(ctx context.Context, s *scope) (skeleton.Result, error) {
	for _, pod := range s.pods {
		if pod.DeletionTimestamp != nil || (pod.Status.Phase != corev1.PodFailed && pod.Status.Phase != corev1.PodSucceeded) {
			continue
		}
		s.log.Info("deleting a pod that has ended, to recreate it", "pod", pod.Name, "phase", pod.Status.Phase, "reason", pod.Status.Reason)
		if err := r.deletePod(ctx, pod); err != nil {
			return skeleton.Result{}, err
		}
		s.progressing("replacing pod %s, which ended (%s)", pod.Name, pod.Status.Phase)
	}
	return skeleton.Result{}, nil
}

// scaleIn deletes the pods at or above the desired count, highest ordinal
// first: all at once with Parallel, one after the other with Ordered.
func (r *Reconciler) scaleIn(ctx context.Context, s *scope) (skeleton.Result, error) {
	var excess []int
	for n := range s.pods {
		if n >= s.desired {
			excess = append(excess, n)
		}
	}
	if len(excess) == 0 {
		return skeleton.Result{}, nil
	}
	var res skeleton.Result
	slices.Sort(excess)
	slices.Reverse(excess)
	for _, n := range excess {
		pod := s.pods[n]
		if s.desired > 0 && pod.Name == s.ws.Status.Primary && pod.DeletionTimestamp == nil {
			// Removing replicas never removes the primary: it must be
			// switched over (a Failover operation) to a lower ordinal first.
			s.progressing("not removing pod %s above the desired count: it is the designated primary; fail over to a lower ordinal first", pod.Name)
			continue
		}
		if pod.DeletionTimestamp != nil {
			s.progressing("waiting for pod %s to terminate", pod.Name)
			res = skeleton.Requeue(waitForTerminatingRecheck)
			if s.ws.Spec.PodManagementPolicy != plinthv1.ParallelPodManagement {
				return res, nil
			}
			continue
		}
		s.log.Info("deleting a pod above the desired count", "pod", pod.Name, "desired", s.desired)
		if err := r.deletePod(ctx, pod); err != nil {
			return res, err
		}
		r.recorder.Eventf(s.ws, nil, corev1.EventTypeNormal, plinthv1.EventReasonScaled, plinthv1.EventActionScale, "scaling in to %d replicas: deleted pod %s", s.desired, pod.Name)
		s.progressing("deleting pod %s", pod.Name)
		if s.ws.Spec.PodManagementPolicy != plinthv1.ParallelPodManagement {
			return res, nil
		}
	}
	return res, nil
}

// deletePod deletes exactly the pod observed (not a successor of the same name).
func (r *Reconciler) deletePod(ctx context.Context, pod *corev1.Pod) error {
	err := r.client.Delete(ctx, pod, client.Preconditions{UID: &pod.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting pod %s: %w", pod.Name, err)
	}
	return nil
}

// createPods creates the missing pods below the desired count: all at once
// with Parallel; with Ordered, pod N only once pods 0..N-1 are ready.
func (r *Reconciler) createPods(ctx context.Context, s *scope) (skeleton.Result, error) {
	ordered := s.ws.Spec.PodManagementPolicy != plinthv1.ParallelPodManagement
	if writableRole(s.ws) != "" && s.before.Primary == "" {
		if s.desired > len(s.pods) {
			s.progressing("designating the primary before creating pods")
			return skeleton.Requeue(designationRecheck), nil
		}
		return skeleton.Result{}, nil
	}
	var res skeleton.Result
	annotations := topologyAnnotations(s)
	for n := 0; n < s.desired; n++ {
		if pod, ok := s.pods[n]; ok {
			if ordered && !podReady(pod) {
				if _, missing := s.missingAbove(n); missing {
					s.progressing("waiting for pod %s to be ready before creating the next", pod.Name)
				}
				return res, nil
			}
			continue
		}
		want := desiredPod(s.ws, n, s.rev)
		if blocked := s.pvcsNotUsable(want.Name); blocked != "" {
			s.progressing("waiting for %s before creating pod %s", blocked, want.Name)
			res = skeleton.Requeue(waitForTerminatingRecheck)
			if ordered {
				return res, nil
			}
			continue
		}
		r.images.PodSpec(&want.Spec)
		if len(annotations) > 0 && want.Annotations == nil {
			want.Annotations = map[string]string{}
		}
		maps.Copy(want.Annotations, annotations)
		s.log.Info("creating a pod", "pod", want.Name, "revision", s.rev)
		if err := r.client.Create(ctx, want); err != nil {
			if !apierrors.IsAlreadyExists(err) {
				return res, fmt.Errorf("creating pod %s: %w", want.Name, err)
			}
			// Our cache may be behind, or someone else's pod has the name.
			s.progressing("pod %s already exists but is not (yet) seen as controlled by this WorkloadSet", want.Name)
			res = skeleton.Requeue(waitForTerminatingRecheck)
		} else {
			s.progressing("creating pod %s", want.Name)
			if s.ws.Status.Replicas > 0 && int32(n) >= s.ws.Status.Replicas {
				r.recorder.Eventf(s.ws, nil, corev1.EventTypeNormal, plinthv1.EventReasonScaled, plinthv1.EventActionScale, "scaling out to %d replicas: created pod %s", s.desired, want.Name)
			} else {
				r.recorder.Eventf(s.ws, nil, corev1.EventTypeNormal, plinthv1.EventReasonCreated, plinthv1.EventActionCreate, "created pod %s (revision %s)", want.Name, s.rev)
			}
		}
		if ordered {
			return res, nil
		}
	}
	return res, nil
}

// missingAbove reports whether a pod above ordinal n is still to be created.
func (s *scope) missingAbove(n int) (int, bool) {
	for m := n + 1; m < s.desired; m++ {
		if _, ok := s.pods[m]; !ok {
			return m, true
		}
	}
	return 0, false
}

// pvcsNotUsable names a PVC of the pod that is missing or being deleted.
func (s *scope) pvcsNotUsable(pod string) string {
	for _, vct := range s.ws.Spec.VolumeClaimTemplates {
		name := pvcName(vct.Name, pod)
		pvc, ok := s.pvcs[name]
		if !ok {
			return "PVC " + name + " to exist"
		}
		if pvc.DeletionTimestamp != nil {
			return "PVC " + name + " (being deleted) to be gone"
		}
	}
	return ""
}

// deleteReleasedPVCs deletes, when pvcRetention.whenScaled is Delete, the
// PVCs of ordinals at or above spec.replicas whose pod is gone. Stopping is
// not scaling: a stopped WorkloadSet keeps every PVC.
func (r *Reconciler) deleteReleasedPVCs(ctx context.Context, s *scope) (skeleton.Result, error) {
	if !deletePVCsWhenScaled(s.ws) {
		return skeleton.Result{}, nil
	}
	for _, pvc := range s.pvcs {
		n, ok := s.pvcOrdinal(pvc.Name)
		if !ok || n < int(s.ws.Spec.Replicas) || pvc.DeletionTimestamp != nil {
			continue
		}
		if _, podLeft := s.pods[n]; podLeft {
			continue
		}
		s.log.Info("deleting the PVC of a pod removed by scale-in (pvcRetention.whenScaled is Delete)", "pvc", pvc.Name)
		if err := r.client.Delete(ctx, pvc, client.Preconditions{UID: &pvc.UID}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return skeleton.Result{}, fmt.Errorf("deleting PVC %s: %w", pvc.Name, err)
		}
	}
	return skeleton.Result{}, nil
}

// pvcOrdinal returns the ordinal of the pod a PVC of this WorkloadSet belongs to.
func (s *scope) pvcOrdinal(name string) (int, bool) {
	for _, vct := range s.ws.Spec.VolumeClaimTemplates {
		if pod, ok := strings.CutPrefix(name, vct.Name+"-"); ok {
			if n, ok := ordinalOf(s.ws, pod); ok {
				return n, true
			}
		}
	}
	return 0, false
}

// rollOut replaces one outdated pod when every pod exists and the policy
// says it is time.
func (r *Reconciler) rollOut(ctx context.Context, s *scope) (skeleton.Result, error) {
	if s.desired == 0 || len(s.pods) != s.desired {
		return skeleton.Result{}, nil
	}
	var cands []updateCandidate
	for n, pod := range s.pods {
		if pod.DeletionTimestamp != nil {
			s.progressing("waiting for pod %s to terminate", pod.Name)
			return skeleton.Result{}, nil
		}
		m := s.members[pod.Name]
		cands = append(cands, updateCandidate{Name: pod.Name, Ordinal: n, Role: m.Role, Updated: m.Updated, Available: available(m, s.ws)})
	}
	d := nextPodToUpdate(cands, s.ws.Spec.Roles)
	if d.Wait != "" {
		s.progressing("rolling update: %s", d.Wait)
		return skeleton.Result{}, nil
	}
	if d.Pod == "" {
		return skeleton.Result{}, nil
	}
	n, _ := ordinalOf(s.ws, d.Pod)
	pod := s.pods[n]
	role := s.members[pod.Name].Role
	if guardedAsPrimary(s, pod.Name, role) && r.switchover != nil {
		ok, err := r.switchover.Prepare(ctx, s.ws, pod, memberList(s))
		if err != nil {
			// The primary stays: a failed switchover stops the rollout here.
			s.progressing("rolling update stopped before the primary %s: switchover failed: %v", pod.Name, err)
			r.recorder.Eventf(s.ws, nil, corev1.EventTypeWarning, plinthv1.EventReasonSwitchoverFailed, plinthv1.EventActionSwitchover, "switchover away from %s failed: %v", pod.Name, err)
			return skeleton.Result{}, fmt.Errorf("switching over from writable pod %s: %w", pod.Name, err)
		}
		if !ok {
			s.progressing("rolling update: waiting for a switchover away from %s", pod.Name)
			return skeleton.Requeue(switchoverRecheck), nil
		}
	}
	s.log.Info("replacing a pod to roll out a new template", "pod", pod.Name, "role", role, "from", pod.Labels[plinthv1.LabelRevision], "to", s.rev)
	if err := r.deletePod(ctx, pod); err != nil {
		return skeleton.Result{}, err
	}
	r.recorder.Eventf(s.ws, nil, corev1.EventTypeNormal, plinthv1.EventReasonRolloutStep, plinthv1.EventActionReplace, "rolling update: replacing pod %s (role %s) with revision %s", pod.Name, orUnknown(role), s.rev)
	s.progressing("rolling update: replacing pod %s", pod.Name)
	return skeleton.Result{}, nil
}

// orUnknown is role, or "unknown" when no role is reported.
func orUnknown(role string) string {
	if role == "" {
		return "unknown"
	}
	return role
}

// guardedAsPrimary says whether replacing pod needs the switchover first: it
// reports the writable role, or it is still the designated primary (in this
// reconcile or as persisted). A primary that has just handed over (it reports
// a replica role while no other member reports the writable role yet, or the
// new designation is not persisted and published yet) is not replaced: it
// would restart reading its own name as the primary, and the read-write
// Service would have no pod in between.
func guardedAsPrimary(s *scope, pod, role string) bool {
	if rs := roleSpec(s.ws.Spec.Roles, role); rs != nil && rs.Writable {
		return true
	}
	if writableRole(s.ws) == "" {
		return false
	}
	return pod == s.ws.Status.Primary || pod == s.before.Primary
}

func memberList(s *scope) []plinthv1.MemberStatus {
	out := make([]plinthv1.MemberStatus, 0, len(s.members))
	for _, m := range s.members {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b plinthv1.MemberStatus) int {
		x, _ := ordinalOf(s.ws, a.Name)
		y, _ := ordinalOf(s.ws, b.Name)
		return x - y
	})
	return out
}

// writeStatus summarises the observations into the status and applies it
// (server-side apply, one field manager) when anything a user cares about
// changed (see statusChanged); then it keeps this pass's report
// bookkeeping. A failed write keeps the previous bookkeeping, so the next
// pass judges the same reports again. observedGeneration moves only after a
// complete pass; a pass ended by an error that is not a verdict says so in
// Ready (reason ReconcileFailed), so the layer above sees the change is not
// done.
func (r *Reconciler) writeStatus(ctx context.Context, s *scope, o skeleton.Outcome) error {
	if s.deleting {
		return nil
	}
	st := &s.ws.Status
	if s.observed {
		summarize(s)
	}
	skeleton.Observe(o, s.ws.Generation, &st.ObservedGeneration, &st.Conditions)
	if err := r.applyStatus(ctx, s); err != nil {
		return err
	}
	if s.observed {
		r.reports.put(client.ObjectKeyFromObject(s.ws), s.reports)
	}
	return nil
}

func (r *Reconciler) applyStatus(ctx context.Context, s *scope) error {
	st := &s.ws.Status
	if !statusChanged(&s.before, st, staleAfterHeartbeats*heartbeat(s.ws)) {
		return nil
	}
	s.log.V(1).Info("writing status", "phase", st.Phase, "ready", st.Ready)
	return r.status.ApplyStatus(ctx, s.ws, st)
}
