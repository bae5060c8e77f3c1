package pluginregistry

import (
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// RenderPodTemplate renders the pod template of a component definition and
// decodes it strictly into a PodTemplateSpec.
func RenderPodTemplate(pv *PluginVersion, component string, ctx *Context) (*corev1.PodTemplateSpec, error) {
	def := pv.Component(component)
	if def == nil {
		return nil, fmt.Errorf("plugin %s %s has no component %q", pv.Name(), pv.Version(), component)
	}
	var tmpl *PodTemplate
	for i := range pv.PodTemplates.Templates {
		if pv.PodTemplates.Templates[i].Name == def.PodTemplate {
			tmpl = &pv.PodTemplates.Templates[i]
		}
	}
	if tmpl == nil {
		return nil, fmt.Errorf("plugin %s %s has no pod template %q", pv.Name(), pv.Version(), def.PodTemplate)
	}
	return renderPodTemplate(tmpl, ctx)
}

func renderPodTemplate(tmpl *PodTemplate, ctx *Context) (*corev1.PodTemplateSpec, error) {
	text, err := Render(tmpl.Name, tmpl.Template, ctx)
	if err != nil {
		return nil, err
	}
	var spec corev1.PodTemplateSpec
	if err := yaml.UnmarshalStrict([]byte(text), &spec); err != nil {
		return nil, fmt.Errorf("the rendered pod template is not a valid PodTemplateSpec: %v", err)
	}
	if len(spec.Spec.Containers) == 0 {
		return nil, fmt.Errorf("the rendered pod template has no containers")
	}
	return &spec, nil
}

// RenderedOperation is an operation template with its arguments resolved and
// every step rendered. Skip[i] is true when step i's "when" rendered false.
type RenderedOperation struct {
	Name  string
	Args  map[string]string
	Steps []Step
	Skip  []bool
}

// RenderOperation validates args against the template's parameters and
// renders every step with ctx (ctx.Args is replaced by the resolved args).
func RenderOperation(pv *PluginVersion, name string, args map[string]string, ctx Context) (*RenderedOperation, error) {
	tmpl := pv.OperationTemplate(name)
	if tmpl == nil {
		return nil, fmt.Errorf("plugin %s %s has no operation template %q: expected one of %s",
			pv.Name(), pv.Version(), name, strings.Join(templateNames(pv), ", "))
	}
	if problems := pv.Unrunnable[name]; len(problems) > 0 {
		msgs := make([]string, len(problems))
		for i, fe := range problems {
			msgs[i] = fe.Error()
		}
		return nil, fmt.Errorf("plugin %s %s: operation template %s breaks the operations contract and cannot run (%s); move the Application to a plugin version whose %s template can run (UpgradeApp)",
			pv.Name(), pv.Version(), name, strings.Join(msgs, "; "), name)
	}
	resolved, errs := ResolveArguments(tmpl.Parameters, args)
	if len(errs) > 0 {
		return nil, &ParametersError{Component: "operation " + name, Errors: errs}
	}
	ctx.Args = resolved
	out := &RenderedOperation{Name: name, Args: resolved}
	for i, st := range tmpl.Steps {
		r, skip, err := renderStep(st, &ctx)
		if err != nil {
			return nil, fmt.Errorf("operation %s step %d (%s): %w", name, i, st.Name, err)
		}
		out.Steps = append(out.Steps, r)
		out.Skip = append(out.Skip, skip)
	}
	return out, nil
}

func templateNames(pv *PluginVersion) []string {
	var names []string
	for _, t := range pv.Operations.Templates {
		names = append(names, t.Name)
	}
	return names
}

// renderStep renders every string of a step (through its JSON form, so no
// field is forgotten) and evaluates "when".
func renderStep(st Step, ctx *Context) (Step, bool, error) {
	raw, err := json.Marshal(st)
	if err != nil {
		return Step{}, false, err
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return Step{}, false, err
	}
	rendered, err := renderTree(tree, ctx, "")
	if err != nil {
		return Step{}, false, err
	}
	raw, err = json.Marshal(rendered)
	if err != nil {
		return Step{}, false, err
	}
	var out Step
	if err := json.Unmarshal(raw, &out); err != nil {
		return Step{}, false, err
	}
	skip := false
	if st.When != "" {
		switch strings.TrimSpace(out.When) {
		case "true":
		case "false", "":
			skip = true
		default:
			return Step{}, false, fmt.Errorf("when rendered to %q: expected true or false", out.When)
		}
	}
	return out, skip, nil
}

func renderTree(v any, ctx *Context, path string) (any, error) {
	switch x := v.(type) {
	case string:
		s, err := Render(path, x, ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return s, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := renderTree(e, ctx, joinKey(path, k))
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := renderTree(e, ctx, joinIndex(path, i))
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	default:
		return v, nil
	}
}

// RenderAction validates args against an action's parameters and renders
// its argv; this is what the ops agent runs (never through a shell).
func RenderAction(a *Action, args map[string]string, ctx Context) ([]string, error) {
	resolved, errs := ResolveArguments(a.Parameters, args)
	if len(errs) > 0 {
		return nil, &ParametersError{Component: "action " + a.Name, Errors: errs}
	}
	ctx.Args = resolved
	return renderArgv(a, &ctx)
}

// renderArgv renders each argv element of an action on its own.
func renderArgv(a *Action, ctx *Context) ([]string, error) {
	argv := make([]string, len(a.Command))
	for i, c := range a.Command {
		s, err := Render(fmt.Sprintf("%s.command[%d]", a.Name, i), c, ctx)
		if err != nil {
			return nil, err
		}
		argv[i] = s
	}
	return argv, nil
}
