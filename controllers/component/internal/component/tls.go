package component

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	plinthv1 "github.com/plinth-io/plinth/apis/v1alpha1"
	"github.com/plinth-io/plinth/internal/naming"
	"github.com/plinth-io/plinth/internal/pki"
)

// ClientCommonName is the identity controllers present to the agents.
const ClientCommonName = "plinth-controllers"

// agentDNSNames are the names the agents' server certificate covers: every
// pod of the component through its headless Service, and localhost.
func agentDNSNames(in *inputs) []string {
	svc, ns := in.headlessService(), in.comp.Namespace
	return []string{
		"*." + svc + "." + ns + ".svc",
		"*." + svc + "." + ns + ".svc.cluster.local",
		"localhost",
	}
}

// reconcileTLS makes sure the Application's agent CA, the component's agent
// server certificate and the controllers' client certificate exist and are
// valid for at least pki.RenewBefore. It returns when to look again.
func (r *Reconciler) reconcileTLS(ctx context.Context, in *inputs) (time.Duration, error) {
	app := metav1.GetControllerOf(in.comp)
	if app == nil {
		return 0, fmt.Errorf("component %s has no owning Application", in.comp.Name)
	}
	now := r.now()
	ca, err := r.ensureCA(ctx, in, app, now)
	if err != nil {
		return 0, err
	}
	leaves := []struct {
		name  string
		owner *metav1.OwnerReference
		req   pki.LeafRequest
	}{
		{naming.AgentTLSSecret(in.comp.Name), nil, pki.LeafRequest{CommonName: in.comp.Name, DNSNames: agentDNSNames(in), Usage: pki.ServerUsage}},
		{naming.AgentClientSecret(in.comp.Spec.Application), app, pki.LeafRequest{CommonName: ClientCommonName, Usage: pki.ClientUsage}},
	}
	for _, l := range leaves {
		if err := r.ensureLeaf(ctx, in, l.name, l.owner, ca, l.req, now); err != nil {
			return 0, err
		}
	}
	return certificateRecheck, nil
}

// ensureCA reads the Application's CA, creating it the first time. Creation
// is race-safe: two components creating it at once both end up with the one
// the API server kept.
func (r *Reconciler) ensureCA(ctx context.Context, in *inputs, app *metav1.OwnerReference, now time.Time) (pki.KeyPair, error) {
	key := client.ObjectKey{Namespace: in.comp.Namespace, Name: naming.AgentCASecret(in.comp.Spec.Application)}
	s := &corev1.Secret{}
	err := r.Client.Get(ctx, key, s)
	found := err == nil
	if found {
		kp := pki.KeyPair{CertPEM: s.Data[pki.KeyCACert], KeyPEM: s.Data[pki.KeyCAKey]}
		if renew, _ := pki.NeedsRenewal(kp.CertPEM, nil, nil, now); !renew {
			return kp, nil
		}
		// An unreadable or expiring CA is replaced; the leaves follow because
		// they no longer verify under it.
	} else if !apierrors.IsNotFound(err) {
		return pki.KeyPair{}, err
	}
	kp, err := pki.NewCA(in.comp.Spec.Application+"-agents-ca", now)
	if err != nil {
		return pki.KeyPair{}, err
	}
	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace, Labels: in.labels()},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{pki.KeyCACert: kp.CertPEM, pki.KeyCAKey: kp.KeyPEM},
	}
	delete(secret.Labels, "plinth.io/component")
	if found { // replacing an unusable CA
		s.Data = secret.Data
		return kp, r.Client.Update(ctx, s)
	}
	secret.OwnerReferences = []metav1.OwnerReference{*app}
	if err := r.Client.Create(ctx, secret); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Another Component created it and the cache has not seen it
			// yet, or a Secret without Plinth's label holds the name (the
			// cache never shows it, docs/caches.md): retry with backoff
			// rather than loop.
			return pki.KeyPair{}, fmt.Errorf("the agent CA Secret %s exists but is not in the cache (yet): %w; if it lacks the label %s=%s, it is not Plinth's: delete or label it", key.Name, err, plinthv1.LabelManagedBy, plinthv1.ManagedByPlinth)
		}
		return pki.KeyPair{}, err
	}
	r.log(ctx).Info("created the Application's agent CA", "secret", key.Name)
	return kp, nil
}

// ensureLeaf reissues the certificate in Secret name when it is missing,
// unreadable, not signed by ca, lacks a name or nears expiry.
func (r *Reconciler) ensureLeaf(ctx context.Context, in *inputs, name string, owner *metav1.OwnerReference, ca pki.KeyPair, req pki.LeafRequest, now time.Time) error {
	s := &corev1.Secret{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: in.comp.Namespace, Name: name}, s)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err == nil {
		if renew, _ := pki.NeedsRenewal(s.Data[pki.KeyTLSCert], ca.CertPEM, req.DNSNames, now); !renew {
			return nil
		}
	}
	kp, err := pki.Issue(ca, req, now)
	if err != nil {
		return err
	}
	r.log(ctx).Info("issuing agent certificate", "secret", name, "commonName", req.CommonName)
	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: in.comp.Namespace, Labels: in.labels()},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{pki.KeyCACert: ca.CertPEM, pki.KeyTLSCert: kp.CertPEM, pki.KeyTLSKey: kp.KeyPEM},
	}
	if owner != nil {
		delete(secret.Labels, "plinth.io/component")
		return r.apply.Apply(ctx, secret, owner)
	}
	return r.apply.Apply(ctx, secret, r.ownerRef(in.comp))
}
