package pluginregistry

import (
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// CanUpgradePlugin says whether an Application on plugin version from may
// move to plugin version to (UpgradeApp): same plugin, a higher version, and
// from matches one of to's allowed-upgrade-from entries (an exact version or
// a semver constraint). It returns nil when allowed, or the reason.
func CanUpgradePlugin(from, to *PluginVersion) error {
	if from == nil || to == nil {
		return fmt.Errorf("both plugin versions are needed")
	}
	if from.Name() != to.Name() {
		return fmt.Errorf("cannot change plugin from %s to %s: create a new Application instead", from.Name(), to.Name())
	}
	fv, err := semver.StrictNewVersion(strings.TrimPrefix(from.Version(), "v"))
	if err != nil {
		return fmt.Errorf("plugin version %q is not semver", from.Version())
	}
	tv, err := semver.StrictNewVersion(strings.TrimPrefix(to.Version(), "v"))
	if err != nil {
		return fmt.Errorf("plugin version %q is not semver", to.Version())
	}
	if !tv.GreaterThan(fv) {
		return fmt.Errorf("%s %s is not newer than %s: plugin downgrades are not allowed", to.Name(), to.Version(), from.Version())
	}
	for _, entry := range to.Manifest.AllowedUpgradeFrom {
		ok, err := matchesVersion(entry, fv)
		if err == nil && ok {
			return nil
		}
	}
	allowed := "none"
	if len(to.Manifest.AllowedUpgradeFrom) > 0 {
		allowed = strings.Join(to.Manifest.AllowedUpgradeFrom, ", ")
	}
	return fmt.Errorf("%s %s does not allow upgrades from %s (allowed-upgrade-from: %s)", to.Name(), to.Version(), from.Version(), allowed)
}

// matchesVersion reports whether v matches an allowed-upgrade-from entry.
func matchesVersion(entry string, v *semver.Version) (bool, error) {
	if ev, err := semver.StrictNewVersion(strings.TrimPrefix(entry, "v")); err == nil {
		return ev.Equal(v), nil
	}
	c, err := semver.NewConstraint(entry)
	if err != nil {
		return false, err
	}
	return c.Check(v), nil
}

// CanUpgradeMiddleware says whether an Application on plugin version pv may
// move its middleware from version from to version to (UpgradePaaS): both
// are supported by pv, to is newer, and to's upgrade-from (when given)
// lists from. It returns nil when allowed, or the reason.
func CanUpgradeMiddleware(pv *PluginVersion, from, to string) error {
	if pv == nil {
		return fmt.Errorf("the plugin version is needed")
	}
	var fromSV, toSV *SupportedVersion
	for i := range pv.Manifest.SupportedVersions {
		sv := &pv.Manifest.SupportedVersions[i]
		if sv.Version == from {
			fromSV = sv
		}
		if sv.Version == to {
			toSV = sv
		}
	}
	supported := supportedList(pv)
	if fromSV == nil {
		return fmt.Errorf("%s %s does not support middleware version %q (supported: %s)", pv.Name(), pv.Version(), from, supported)
	}
	if toSV == nil {
		return fmt.Errorf("%s %s does not support middleware version %q (supported: %s)", pv.Name(), pv.Version(), to, supported)
	}
	if from == to {
		return fmt.Errorf("middleware version is already %s", to)
	}
	fv, err1 := semver.NewVersion(from)
	tv, err2 := semver.NewVersion(to)
	if err1 == nil && err2 == nil && !tv.GreaterThan(fv) {
		return fmt.Errorf("cannot downgrade middleware from %s to %s", from, to)
	}
	if toSV.UpgradeFrom != nil {
		for _, f := range toSV.UpgradeFrom {
			if f == from {
				return nil
			}
		}
		return fmt.Errorf("%s %s cannot upgrade middleware %s in place to %s (upgrade-from of %s: %s)",
			pv.Name(), pv.Version(), from, to, to, listOrNone(toSV.UpgradeFrom))
	}
	return nil
}

// Image returns the image of a middleware version for a component,
// honouring the component's per-version override.
func Image(pv *PluginVersion, component, version string) (string, error) {
	if def := pv.Component(component); def != nil {
		if img, ok := def.Images[version]; ok {
			return img, nil
		}
	}
	for _, sv := range pv.Manifest.SupportedVersions {
		if sv.Version == version {
			return sv.Image, nil
		}
	}
	return "", fmt.Errorf("%s %s does not support middleware version %q (supported: %s)", pv.Name(), pv.Version(), version, supportedList(pv))
}

func supportedList(pv *PluginVersion) string {
	var vs []string
	for _, sv := range pv.Manifest.SupportedVersions {
		vs = append(vs, sv.Version)
	}
	return listOrNone(vs)
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}
