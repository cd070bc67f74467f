package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestRead(t *testing.T) {
	vcs := func(rev, modified string) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}}
	}
	tagged := &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}
	for _, tc := range []struct {
		name            string
		version, commit string
		bi              *debug.BuildInfo
		wantV, wantC    string
	}{
		{"stamped", "1.2.3", "0123456789ab", vcs("ffffffffffffffffffff", "true"), "1.2.3", "0123456789ab"},
		{"vcs only", "", "", vcs("0123456789abcdef0123", "false"), "dev", "0123456789ab"},
		{"vcs dirty", "", "", vcs("0123456789abcdef0123", "true"), "dev", "0123456789ab-dirty"},
		{"module version", "", "", tagged, "1.4.0", "unknown"},
		{"nothing", "", "", nil, "dev", "unknown"},
		{"no vcs", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := read("shardrive", tc.version, tc.commit, tc.bi)
			if in.Version != tc.wantV || in.Commit != tc.wantC {
				t.Errorf("version %q commit %q, want %q %q", in.Version, in.Commit, tc.wantV, tc.wantC)
			}
		})
	}
	in := read("shardfarmer", "1.2.3", "abc1234", nil)
	want := "shardfarmer 1.2.3 (commit abc1234, " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")"
	if in.String() != want {
		t.Errorf("String() = %q, want %q", in.String(), want)
	}
}
