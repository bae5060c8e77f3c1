// Package publish writes status reports to the agent's own Pod, as the
// annotation status.plinth.io/report, with a JSON merge patch. It needs get
// and patch on that one Pod and nothing else.
package publish

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/plinth-io/plinth/apis/statusreport"
	"github.com/plinth-io/plinth/apis/v1alpha1"
)

// Publisher writes reports to one Pod.
type Publisher struct {
	client    kubernetes.Interface
	namespace string
	name      string
	log       logr.Logger

	seq      uint64
	seqKnown bool
}

// New makes a Publisher for the Pod namespace/name.
func New(client kubernetes.Interface, namespace, name string, log logr.Logger) *Publisher {
	return &Publisher{client: client, namespace: namespace, name: name, log: log}
}

// Publish gives r the next sequence number and writes it. The first call
// reads the Pod's current report so the sequence continues across agent
// restarts. It returns the report as written.
func (p *Publisher) Publish(ctx context.Context, r statusreport.Report) (statusreport.Report, error) {
	if !p.seqKnown {
		pod, err := p.client.CoreV1().Pods(p.namespace).Get(ctx, p.name, metav1.GetOptions{})
		if err != nil {
			return r, fmt.Errorf("reading pod %s/%s: %w", p.namespace, p.name, err)
		}
		if s, ok := pod.Annotations[v1alpha1.AnnotationStatusReport]; ok {
			if prev, err := statusreport.Parse([]byte(s)); err == nil {
				p.seq = prev.Sequence
			} else {
				p.log.Info("the pod's previous report is unreadable; the sequence starts again from 1", "error", err.Error())
			}
		}
		p.seqKnown = true
	}
	p.seq++
	r.Sequence = p.seq
	value, err := r.Marshal()
	if err != nil {
		return r, err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{v1alpha1.AnnotationStatusReport: string(value)}}})
	if err != nil {
		return r, err
	}
	if _, err := p.client.CoreV1().Pods(p.namespace).Patch(ctx, p.name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return r, fmt.Errorf("patching pod %s/%s: %w", p.namespace, p.name, err)
	}
	return r, nil
}
