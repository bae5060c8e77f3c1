// Package bench measures the controller chain (application, component and
// workloadset controllers, each its own process as in production) against a
// real kube-apiserver. Run with:
//
//	make bench-chain            # PLINTH_BENCH_APPS=100,1000 by default
//
// Each run prints, next to the chain's figures, the floor measured in the same
// run: the same objects written directly by one client with the same QPS
// budget, and the ratio between the two. Numbers: docs/bench-chain.md.
package bench
