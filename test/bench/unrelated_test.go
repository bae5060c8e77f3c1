package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// unrelatedCount is PLINTH_BENCH_UNRELATED: how many Pods, how many Secrets
// and how many ConfigMaps not of Plinth's the cluster holds before the
// controllers start (default 0), as a shared cluster does. The controllers'
// memory must not grow with them.
func unrelatedCount(b *testing.B) int {
	s := os.Getenv("PLINTH_BENCH_UNRELATED")
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		b.Fatalf("PLINTH_BENCH_UNRELATED=%q: want a count", s)
	}
	return n
}

// unrelatedPayload is about a KiB of data per object, the order of a small
// real Secret, ConfigMap or Pod spec.
var unrelatedPayload = strings.Repeat("x", 1024)

// createUnrelated creates n Pods, n Secrets and n ConfigMaps without
// Plinth's labels in namespace "unrelated", 16 at a time.
func createUnrelated(ctx context.Context, b *testing.B, kc kubernetes.Interface, n int) {
	if n == 0 {
		return
	}
	const ns = "unrelated"
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	labels := map[string]string{"app.kubernetes.io/name": "someone-else", "app.kubernetes.io/managed-by": "helm"}
	work := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				name := fmt.Sprintf("other-%d", i)
				meta := metav1.ObjectMeta{Name: name, Labels: labels}
				if _, err := kc.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: meta, StringData: map[string]string{"token": unrelatedPayload}}, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
				if _, err := kc.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"config": unrelatedPayload}}, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
				pod := &corev1.Pod{ObjectMeta: meta, Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "example.invalid/app:1", Args: []string{unrelatedPayload},
				}}}}
				if _, err := kc.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		select {
		case work <- i:
		case err := <-errs:
			close(work)
			wg.Wait()
			b.Fatalf("creating unrelated objects: %v", err)
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatalf("creating unrelated objects: %v", err)
	default:
	}
}
