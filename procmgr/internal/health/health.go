// Package health serves the kubelet's probes of a procmgr container:
// /healthz (liveness) answers 200 while procmgr serves; /readyz (readiness)
// answers 200 only while the managed process is running and not being
// stopped, so a Stop through the API takes the Pod out of its Services
// without restarting the container.
package health

import (
	"fmt"
	"net/http"
)

// Handler serves /healthz and /readyz. ready reports readiness and a reason.
func Handler(ready func() (bool, string)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := ready()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	return mux
}
