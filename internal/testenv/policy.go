package testenv

import (
	"context"
	"fmt"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DenyMessage is the message of the policy Deny installs; a test finds it
// in the condition that reports the refused write.
const DenyMessage = "plinth test: writes of this kind are refused in this namespace"

// Deny installs a ValidatingAdmissionPolicy and its binding that refuse the
// operations ops (admissionregistration CREATE, UPDATE...) on resource
// (plural) in API group group within namespace ns, so a test can make a controller's pass fail half-way on a child it
// cannot write. It waits until probe, a write the policy must refuse (for
// example a dry-run update of an existing child), is refused, since the API
// server loads policies asynchronously. The returned function removes the
// policy again.
func (e *Env) Deny(ctx context.Context, ns, group, resource string, ops []admissionv1.OperationType, probe func(context.Context) error) (remove func(context.Context) error, err error) {
	name := "plinth-test-deny-" + strings.ReplaceAll(resource, ".", "-") + "-" + ns
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: ops,
					Rule:       admissionv1.Rule{APIGroups: []string{group}, APIVersions: []string{"*"}, Resources: []string{resource}},
				},
			}}},
			Validations: []admissionv1.Validation{{Expression: "false", Message: DenyMessage}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns},
			}},
		},
	}
	remove = func(ctx context.Context) error {
		for _, o := range []client.Object{binding, policy} {
			if err := e.Client.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
		// Wait until the API server lets the probe through again.
		return poll(ctx, func() error {
			if err := probe(ctx); err != nil {
				return fmt.Errorf("the probe is still refused: %w", err)
			}
			return nil
		})
	}
	for _, o := range []client.Object{policy, binding} {
		if err := e.Client.Create(ctx, o); err != nil {
			return nil, fmt.Errorf("testenv: creating %T %s: %w", o, name, err)
		}
	}
	if err := poll(ctx, func() error {
		if err := probe(ctx); err == nil || !strings.Contains(err.Error(), DenyMessage) {
			return fmt.Errorf("the policy does not refuse the probe yet (probe: %v)", err)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return remove, nil
}

// poll runs cond until it returns nil or ctx ends (the caller's deadline;
// at most two minutes).
func poll(ctx context.Context, cond func() error) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// UpdateProbe is a probe for Deny: a dry-run update (a label added) of the
// existing object named key, of obj's kind, which the policy refuses while
// it holds UPDATE of that kind.
func (e *Env) UpdateProbe(obj client.Object, key client.ObjectKey) func(context.Context) error {
	return func(ctx context.Context) error {
		o := obj.DeepCopyObject().(client.Object)
		if err := e.Client.Get(ctx, key, o); err != nil {
			return err
		}
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels["plinth-test-probe"] = "x"
		o.SetLabels(labels)
		return e.Client.Update(ctx, o, client.DryRunAll)
	}
}
