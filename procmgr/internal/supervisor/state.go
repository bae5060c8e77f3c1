package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

func (s *Supervisor) loadState() persisted {
	var p persisted
	if s.cfg.StateFile == "" {
		return p
	}
	data, err := os.ReadFile(s.cfg.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return p
	}
	if err == nil {
		err = json.Unmarshal(data, &p)
	}
	if err != nil {
		s.log.Error(err, "ignoring an unreadable state file", "stateFile", s.cfg.StateFile)
		return persisted{}
	}
	return p
}

func (s *Supervisor) saveState(stopped, hold bool) {
	if s.cfg.StateFile == "" {
		return
	}
	data, _ := json.Marshal(persisted{Stopped: stopped, HoldPrimary: hold})
	tmp := s.cfg.StateFile + ".tmp"
	err := os.WriteFile(tmp, data, 0o600)
	if err == nil {
		err = os.Rename(tmp, s.cfg.StateFile)
	}
	if err != nil {
		s.log.Error(err, "could not write the state file; a container restart will forget it", "stateFile", s.cfg.StateFile)
	}
}

// credential resolves "name", "uid" or "uid:gid" to the identity the
// process runs as.
func credential(spec string) (*syscall.Credential, error) {
	name, group, _ := strings.Cut(spec, ":")
	var uid, gid uint64
	var err error
	if uid, err = strconv.ParseUint(name, 10, 32); err != nil {
		u, lerr := user.Lookup(name)
		if lerr != nil {
			return nil, fmt.Errorf("user %q: %w", spec, lerr)
		}
		uid, _ = strconv.ParseUint(u.Uid, 10, 32)
		gid, _ = strconv.ParseUint(u.Gid, 10, 32)
	} else if u, lerr := user.LookupId(name); lerr == nil {
		gid, _ = strconv.ParseUint(u.Gid, 10, 32)
	} else {
		gid = uid
	}
	if group != "" {
		if gid, err = strconv.ParseUint(group, 10, 32); err != nil {
			return nil, fmt.Errorf("user %q: group must be a number", spec)
		}
	}
	// As root, drop root's supplementary groups; otherwise they cannot change.
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}, NoSetGroups: os.Geteuid() != 0}, nil
}
