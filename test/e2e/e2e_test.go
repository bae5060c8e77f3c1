//go:build e2e

// Package e2e tests Plinth on a real single-node cluster (hack/local-cluster).
// It runs inside the cluster's network namespace with KUBECONFIG set:
//
//	make test-e2e
//	bin/local-cluster exec -- bin/e2e.test -test.v     (cluster already up, Plinth deployed)
//
// The tests talk to the cluster only through the Kubernetes API and to the
// middleware through the ecosystem's clients (go-redis, pgx).
package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/plinth-io/plinth/internal/imagerewrite"
)

const (
	clusterDNS = "10.96.0.10:53"
	// The rule the local overlay gives the controllers: plugins name official
	// images, the local cluster serves them from its mirror.
	mirrorRule = "docker.io/library/=localhost/plinth-mirror/"
)

var client kubernetes.Interface

func TestMain(m *testing.M) {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: KUBECONFIG does not point at the local cluster (run through bin/local-cluster exec):", err)
		os.Exit(2)
	}
	client = kubernetes.NewForConfigOrDie(cfg)
	os.Exit(m.Run())
}

// image maps an official image name the way the controllers' --image-rewrite does.
func image(t *testing.T, official string) string {
	rules, err := imagerewrite.Parse([]string{mirrorRule})
	if err != nil {
		t.Fatal(err)
	}
	return rules.Image(official)
}

// namespace creates a throw-away namespace that is deleted when the test ends.
func namespace(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	name := "e2e-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if len(name) > 50 {
		name = name[:50]
	}
	name += "-" + rand.String(5)
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpNamespace(t, name)
		}
		if err := client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting namespace %s: %v", name, err)
		}
	})
	// Pods need the namespace's default ServiceAccount.
	eventually(t, 30*time.Second, func() error {
		_, err := client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	return name
}

func dumpNamespace(t testing.TB, ns string) {
	ctx := context.Background()
	if pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, p := range pods.Items {
			t.Logf("pod %s: phase %s, conditions %+v, containers %+v", p.Name, p.Status.Phase, p.Status.Conditions, p.Status.ContainerStatuses)
		}
		// The last lines each container wrote (kubelet's logs go with the cluster).
		tail := int64(15)
		for _, p := range pods.Items {
			for _, c := range p.Spec.Containers {
				out, err := client.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name, TailLines: &tail}).DoRaw(ctx)
				if err != nil {
					t.Logf("logs of %s/%s: %v", p.Name, c.Name, err)
					continue
				}
				t.Logf("logs of %s/%s (last %d lines):\n%s", p.Name, c.Name, tail, out)
			}
		}
	}
	if evs, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, e := range evs.Items {
			t.Logf("event %s %s: %s %s", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
}

// eventually retries f every 500 ms until it succeeds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func TestNodeIsReady(t *testing.T) {
	ctx := context.Background()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 1 {
		t.Fatalf("want one node, got %d", len(nodes.Items))
	}
	ready := false
	for _, c := range nodes.Items[0].Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	if !ready {
		t.Fatalf("node %s is not Ready: %+v", nodes.Items[0].Name, nodes.Items[0].Status.Conditions)
	}
	// The cluster DNS answers for the kubernetes Service.
	addrs, err := resolver().LookupHost(ctx, "kubernetes.default.svc.cluster.local")
	if err != nil || len(addrs) != 1 || addrs[0] != "10.96.0.1" {
		t.Fatalf("kubernetes.default.svc.cluster.local = %v, %v; want 10.96.0.1", addrs, err)
	}
	// The default StorageClass can grow volumes.
	scs, err := client.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var def []string
	for _, sc := range scs.Items {
		if sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" {
			def = append(def, sc.Name)
			if sc.AllowVolumeExpansion == nil || !*sc.AllowVolumeExpansion {
				t.Errorf("default StorageClass %s does not allow volume expansion", sc.Name)
			}
		}
	}
	if len(def) != 1 {
		t.Errorf("want one default StorageClass, got %v", def)
	}
}

// resolver asks the cluster DNS directly, as a pod's resolver would.
func resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, clusterDNS)
	}}
}

// redisPod is a Pod of the official redis image (served from the mirror).
func redisPod(t *testing.T, name string, labels map[string]string, args []string, claim string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr[int64](2),
			Containers: []corev1.Container{{
				Name:            "redis",
				Image:           image(t, "redis:7.0"),
				ImagePullPolicy: corev1.PullNever,
				Args:            args,
				Ports:           []corev1.ContainerPort{{Name: "redis", ContainerPort: 6379}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(6379)}},
					PeriodSeconds: 1,
				},
			}},
		},
	}
	if claim != "" {
		pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}
		pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	}
	return pod
}

func ptr[T any](v T) *T { return &v }

// waitPodReady waits until the pod is Ready and returns it.
func waitPodReady(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	eventually(t, 120*time.Second, func() error {
		p, err := client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				pod = p
				return nil
			}
		}
		return fmt.Errorf("pod %s/%s not Ready: phase %s", ns, name, p.Status.Phase)
	})
	return pod
}

func TestRedisAnswersThroughServiceAndHeadlessDNS(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	labels := map[string]string{"app": "redis"}
	pod := redisPod(t, "redis-0", labels, nil, "")
	pod.Spec.Hostname = "redis-0"
	pod.Spec.Subdomain = "redis-headless"
	if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "redis"},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "redis", Port: 6379, TargetPort: intstr.FromString("redis")}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "redis-headless"},
		Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: labels, Ports: []corev1.ServicePort{{Name: "redis", Port: 6379}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ready := waitPodReady(t, ns, "redis-0")

	// Through the ClusterIP Service (kube-proxy's rules).
	clusterIP := net.JoinHostPort(svc.Spec.ClusterIP, "6379")
	r := redisClient(t, clusterIP, "")
	eventually(t, 60*time.Second, func() error { return r.Ping(ctx).Err() })
	if got, err := r.Set(ctx, "plinth-e2e", "through-the-service", 0).Result(); err != nil || got != "OK" {
		t.Fatalf("SET = %q %v", got, err)
	}
	if got, err := r.Info(ctx, "server").Result(); err != nil || !strings.Contains(got, "redis_version:7.0.") {
		t.Fatalf("INFO server does not report Redis 7.0: %q %v", got, err)
	}

	// Through the headless Service's DNS record of the pod.
	host := fmt.Sprintf("redis-0.redis-headless.%s.svc.cluster.local", ns)
	var addr string
	eventually(t, 60*time.Second, func() error {
		addrs, err := resolver().LookupHost(ctx, host)
		if err != nil {
			return err
		}
		if len(addrs) != 1 || addrs[0] != ready.Status.PodIP {
			return fmt.Errorf("%s = %v, want the pod IP %s", host, addrs, ready.Status.PodIP)
		}
		addr = net.JoinHostPort(addrs[0], "6379")
		return nil
	})
	byName := redisClient(t, addr, "")
	if err := byName.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING %s (%s): %v", host, addr, err)
	}
	// The same server: the key written through the Service is there.
	if got, err := byName.Get(ctx, "plinth-e2e").Result(); err != nil || got != "through-the-service" {
		t.Fatalf("GET through the headless name = %q %v", got, err)
	}
	// The service name resolves to the ClusterIP.
	addrs, err := resolver().LookupHost(ctx, fmt.Sprintf("redis.%s.svc.cluster.local", ns))
	if err != nil || len(addrs) != 1 || addrs[0] != svc.Spec.ClusterIP {
		t.Fatalf("redis.%s.svc = %v, %v; want %s", ns, addrs, err, svc.Spec.ClusterIP)
	}

	// From another pod on the same bridge: the pod's resolver (cluster DNS,
	// search path) and kube-proxy's rules back to a pod on the same bridge,
	// the path replicas use to reach their primary.
	clientPod := redisPod(t, "client", nil, nil, "")
	clientPod.Spec.RestartPolicy = corev1.RestartPolicyNever
	clientPod.Spec.Containers[0].ReadinessProbe = nil
	clientPod.Spec.Containers[0].Command = []string{"sh", "-ec",
		`test "$(redis-cli -h redis GET plinth-e2e)" = through-the-service
		 redis-cli -h redis-0.redis-headless SET from-a-pod "$(hostname)"`}
	if _, err := client.CoreV1().Pods(ns).Create(ctx, clientPod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 120*time.Second, func() error {
		p, err := client.CoreV1().Pods(ns).Get(ctx, "client", metav1.GetOptions{})
		if err != nil {
			return err
		}
		switch p.Status.Phase {
		case corev1.PodSucceeded:
			return nil
		case corev1.PodFailed:
			t.Fatalf("the client pod failed: %+v", p.Status.ContainerStatuses)
		}
		return fmt.Errorf("client pod is %s", p.Status.Phase)
	})
	if got, err := r.Get(ctx, "from-a-pod").Result(); err != nil || got != "client" {
		t.Fatalf("GET from-a-pod = %q %v, want the client pod's hostname", got, err)
	}
}

func TestVolumeSurvivesPodDeletionAndExpandsOnline(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{ // no class: the default one
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if _, err := client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() error {
		c, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if c.Status.Phase != corev1.ClaimBound {
			return fmt.Errorf("claim is %s", c.Status.Phase)
		}
		return nil
	})
	// Every write is on disk before it is acknowledged.
	args := []string{"redis-server", "--protected-mode", "no", "--dir", "/data", "--appendonly", "yes", "--appendfsync", "always"}
	create := func() *corev1.Pod {
		if _, err := client.CoreV1().Pods(ns).Create(ctx, redisPod(t, "redis", nil, args, "data"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		return waitPodReady(t, ns, "redis")
	}
	pod := create()
	r := redisClient(t, net.JoinHostPort(pod.Status.PodIP, "6379"), "")
	for i := 0; i < 100; i++ {
		if got, err := r.Set(ctx, fmt.Sprintf("key:%d", i), fmt.Sprintf("value-%d", i), 0).Result(); err != nil || got != "OK" {
			t.Fatalf("SET = %q %v", got, err)
		}
	}
	r.Close()

	// Delete the pod and wait until it is gone; a new one gets the same claim.
	if err := client.CoreV1().Pods(ns).Delete(ctx, "redis", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() error {
		_, err := client.CoreV1().Pods(ns).Get(ctx, "redis", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("pod still there: %v", err)
	})
	pod = create()
	r = redisClient(t, net.JoinHostPort(pod.Status.PodIP, "6379"), "")
	if got, err := r.DBSize(ctx).Result(); err != nil || got != 100 {
		t.Fatalf("after the pod was recreated DBSIZE = %d %v, want 100", got, err)
	}
	if got, err := r.Get(ctx, "key:42").Result(); err != nil || got != "value-42" {
		t.Fatalf("after the pod was recreated GET key:42 = %q %v", got, err)
	}

	// Grow the claim while the pod runs.
	patch := []byte(`{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}`)
	if _, err := client.CoreV1().PersistentVolumeClaims(ns).Patch(ctx, "data", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() error {
		c, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got := c.Status.Capacity[corev1.ResourceStorage]; got.Cmp(resource.MustParse("2Gi")) != 0 {
			return fmt.Errorf("claim capacity %s, want 2Gi", got.String())
		}
		pv, err := client.CoreV1().PersistentVolumes().Get(ctx, c.Spec.VolumeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got := pv.Spec.Capacity[corev1.ResourceStorage]; got.Cmp(resource.MustParse("2Gi")) != 0 {
			return fmt.Errorf("volume capacity %s, want 2Gi", got.String())
		}
		return nil
	})
	// Online: the same pod kept running and serving.
	now, err := client.CoreV1().Pods(ns).Get(ctx, "redis", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if now.UID != pod.UID || now.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Fatalf("the pod was replaced or restarted during expansion")
	}
	if got, err := r.Set(ctx, "after-expansion", "yes", 0).Result(); err != nil || got != "OK" {
		t.Fatalf("SET after expansion = %q %v", got, err)
	}
	if got, err := r.Get(ctx, "key:99").Result(); err != nil || got != "value-99" {
		t.Fatalf("GET key:99 after expansion = %q %v", got, err)
	}
	r.Close()

	// Reclaim policy Delete: once the claim is gone, so is its volume.
	c, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Pods(ns).Delete(ctx, "redis", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, func() error {
		pv, err := client.CoreV1().PersistentVolumes().Get(ctx, c.Spec.VolumeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("volume %s still there (%s)", pv.Name, pv.Status.Phase)
	})
}

// TestPlinthControllersAreAvailable checks the Deployments that make sandbox
// and make test-e2e apply with deploy/kustomize/overlays/local.
func TestPlinthControllersAreAvailable(t *testing.T) {
	ctx := context.Background()
	var deps *appsv1.DeploymentList
	eventually(t, 180*time.Second, func() error {
		var err error
		deps, err = client.AppsV1().Deployments("plinth-system").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=plinth"})
		if err != nil {
			return err
		}
		if len(deps.Items) == 0 {
			return fmt.Errorf("no Plinth Deployments in plinth-system (was the local overlay applied?)")
		}
		for _, d := range deps.Items {
			available := false
			for _, c := range d.Status.Conditions {
				if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
					available = true
				}
			}
			if !available || d.Status.ReadyReplicas != *d.Spec.Replicas {
				return fmt.Errorf("%s: available=%v, %d of %d replicas ready", d.Name, available, d.Status.ReadyReplicas, *d.Spec.Replicas)
			}
		}
		return nil
	})
	for _, d := range deps.Items {
		if *d.Spec.Replicas != 2 {
			t.Errorf("%s runs %d replicas, want 2", d.Name, *d.Spec.Replicas)
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "localhost/plinth/plinth:dev" {
			t.Errorf("%s runs image %s", d.Name, img)
		}
	}
	// Leader election: each controller holds its own Lease, taken by one of its pods.
	eventually(t, 60*time.Second, func() error {
		for _, d := range deps.Items {
			name := strings.TrimPrefix(d.Name, "plinth-") + ".plinth.io"
			lease, err := client.CoordinationV1().Leases("plinth-system").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("lease of %s: %w", d.Name, err)
			}
			if lease.Spec.HolderIdentity == nil || !strings.HasPrefix(*lease.Spec.HolderIdentity, d.Name+"-") {
				return fmt.Errorf("lease %s is held by %v, want a pod of %s", name, lease.Spec.HolderIdentity, d.Name)
			}
		}
		return nil
	})
}

// TestMiddlewareImages starts every middleware version the local mirror
// serves and asks each server, over its own protocol, which version it runs:
// the images Plinth's version-upgrade tests move between.
func TestMiddlewareImages(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	cases := []struct {
		official, want string
		port           int32
		env            []corev1.EnvVar
	}{
		{official: "redis:7.0", want: "7.0.", port: 6379},
		{official: "redis:8.0", want: "8.0.", port: 6379},
		{official: "postgres:15", want: "15", port: 5432, env: []corev1.EnvVar{{Name: "POSTGRES_HOST_AUTH_METHOD", Value: "trust"}}},
		{official: "postgres:17", want: "17", port: 5432, env: []corev1.EnvVar{{Name: "POSTGRES_HOST_AUTH_METHOD", Value: "trust"}}},
	}
	name := func(official string) string { return strings.NewReplacer(":", "-", ".", "-").Replace(official) }
	for _, tc := range cases {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name(tc.official)},
			Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: ptr[int64](2),
				Containers: []corev1.Container{{
					Name: "server", Image: image(t, tc.official), ImagePullPolicy: corev1.PullNever, Env: tc.env,
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(tc.port)}},
						PeriodSeconds: 1,
					},
				}},
			},
		}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range cases {
		t.Run(tc.official, func(t *testing.T) {
			pod := waitPodReady(t, ns, name(tc.official))
			addr := net.JoinHostPort(pod.Status.PodIP, fmt.Sprint(tc.port))
			if strings.HasPrefix(tc.official, "redis") {
				info, err := redisClient(t, addr, "").Info(ctx, "server").Result()
				if err != nil || !strings.Contains(info, "redis_version:"+tc.want) {
					t.Fatalf("%s reports %q %v", tc.official, info, err)
				}
				return
			}
			var rows []string
			eventually(t, 60*time.Second, func() error { // initdb runs before the server listens for real
				var err error
				rows, err = pgKeptRows(ctx, addr)
				return err
			})
			if len(rows) != 1 || !strings.HasPrefix(rows[0], "kept "+tc.want+".") {
				t.Fatalf("%s answered %q, want one row \"kept %s.*\"", tc.official, rows, tc.want)
			}
		})
	}
}

// pgKeptRows connects to the PostgreSQL at addr as postgres (trust
// authentication), adds a row to the table e2e in one transaction and
// returns every row with the server's version: "kept <version>".
func pgKeptRows(ctx context.Context, addr string) ([]string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	c, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%s user=postgres dbname=postgres sslmode=disable connect_timeout=5", host, port))
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	var rows []string
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS e2e (v text)"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO e2e VALUES ('kept')"); err != nil {
			return err
		}
		r, err := tx.Query(ctx, "SELECT v || ' ' || current_setting('server_version') FROM e2e")
		if err != nil {
			return err
		}
		rows, err = pgx.CollectRows(r, pgx.RowTo[string])
		return err
	})
	return rows, err
}
