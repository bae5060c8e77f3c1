package workloadset

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// reportState is what the controller remembers about one pod's status
// reports between reconciles. It changes with every heartbeat, so it lives in
// memory rather than in the WorkloadSet status: writing the status on every
// heartbeat would cost one API write per pod per heartbeat (100 writes/s for
// 1000 pods at 10 s), which is most of the controller's API budget.
//
// The status carries a copy of sequence and lastReport as of the last status
// write (see writeStatus), which is what a restarted controller starts from.
type reportState struct {
	// digest identifies the last annotation value judged (accepted or
	// rejected), so that each value is judged and counted once.
	digest string
	// sequence of the last accepted report (0: none).
	sequence int64
	// lastReport is the timestamp of the last accepted report (zero: none).
	lastReport time.Time
	// role, healthy and reason come from the last accepted report.
	role    string
	healthy bool
	reason  string
	// restored is true while the state comes from the persisted status
	// (after a controller restart) and no report was accepted since. The
	// persisted sequence may then be behind the last one accepted (it is
	// only written along with status changes), and the report on the pod is
	// typically the very report whose sequence was persisted, whose digest
	// the restarted controller no longer knows: so the first report whose
	// sequence is equal to the persisted one is accepted, not only above.
	// What this lets through is a report at most as old as the last
	// persisted one and, like every report, not older than three
	// heartbeats (statusreport.Report.CheckTime): the agent's next heartbeat
	// overwrites it.
	restored bool
	// rejectTokens and rejectAt are the pod's rejection bucket (see
	// allowRejection): how many rejections it may still have published at
	// once, as of rejectAt.
	rejectTokens float64
	rejectAt     time.Time
}

// Rejections are rate-limited per pod: every distinct annotation value is
// judged and counted, but a pod's rejections make the count visible in the
// status (a status write) only while its bucket has tokens: a burst of
// rejectBurst, then one per rejectEvery. The rest is published with the next
// status write, or at most every rejectEvery on its own, so a pod writing
// bad reports as fast as it can costs a bounded number of status writes
// (docs/workloadset-controller.md, docs/security.md).
const (
	rejectBurst = 3
	rejectEvery = 10 * time.Second
)

// allowRejection takes a token from the pod's bucket at now and reports
// whether there was one.
func (st *reportState) allowRejection(now time.Time) bool {
	if st.rejectAt.IsZero() {
		st.rejectTokens = rejectBurst
	} else if now.After(st.rejectAt) {
		st.rejectTokens = min(rejectBurst, st.rejectTokens+float64(now.Sub(st.rejectAt))/float64(rejectEvery))
	}
	st.rejectAt = now
	if st.rejectTokens < 1 {
		return false
	}
	st.rejectTokens--
	return true
}

// workloadSetReports is the memory kept for one WorkloadSet.
type workloadSetReports struct {
	// uid of the WorkloadSet: a WorkloadSet recreated under the same name
	// starts afresh.
	uid types.UID
	// rejected counts the rejected reports (status.rejectedReports). It is
	// kept here so that a reconcile that reads an out-of-date WorkloadSet
	// from the cache does not write an old count back.
	rejected int64
	// published is the count last put in the status, at publishedAt: it
	// trails rejected while the rejecting pods are rate-limited.
	published   int64
	publishedAt time.Time
	// pods by pod UID; a recreated pod (new UID) starts a new sequence.
	pods map[types.UID]reportState
}

// reportBook is the report bookkeeping of every WorkloadSet this controller
// reconciles, keyed by WorkloadSet and pod UID. It is safe for concurrent
// use by the workers; the workqueue never reconciles one WorkloadSet in two
// workers at once, so each WorkloadSet's entry has a single writer.
//
// A reconcile reads its WorkloadSet's entry, judges new reports into a copy,
// and puts the copy back (put) only once the status was written or needed no
// write: a failed write leaves the book as it was, and the next reconcile
// judges the same reports again. put replaces the whole entry, which drops
// the pods that went away; forget drops the entry of a WorkloadSet that is
// deleted or gone.
type reportBook struct {
	mu   sync.Mutex
	byWS map[types.NamespacedName]workloadSetReports
}

func newReportBook() *reportBook {
	return &reportBook{byWS: map[types.NamespacedName]workloadSetReports{}}
}

// get returns a copy of the entry of the WorkloadSet key with uid, or false
// when there is none (first reconcile since the controller started, or the
// WorkloadSet was recreated).
func (b *reportBook) get(key types.NamespacedName, uid types.UID) (workloadSetReports, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.byWS[key]
	if !ok || e.uid != uid {
		return workloadSetReports{}, false
	}
	pods := make(map[types.UID]reportState, len(e.pods))
	for k, v := range e.pods {
		pods[k] = v
	}
	e.pods = pods
	return e, true
}

// put replaces the entry of the WorkloadSet key; e must not be modified
// afterwards.
func (b *reportBook) put(key types.NamespacedName, e workloadSetReports) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.byWS[key] = e
}

// forget drops the entry of the WorkloadSet key.
func (b *reportBook) forget(key types.NamespacedName) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.byWS, key)
}

// len is the number of WorkloadSets remembered (for tests).
func (b *reportBook) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.byWS)
}
