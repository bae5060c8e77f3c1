// Package switchover runs a WorkloadSet's declared switchover actions (the
// plugin component's switchover: actions on the current primary and on the
// candidate replica, through the pods' ops agents) to move the writable role
// to the candidate. The workloadset-controller uses it before a rolling
// update replaces the primary, the operation-controller for switchover steps
// (Restart, Failover). It only issues the actions: the role moves
// asynchronously, and the designated primary follows once the candidate
// reports the writable role.
package switchover
