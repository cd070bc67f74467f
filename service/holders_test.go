package service

import (
	"os/exec"
	"path/filepath"
	"testing"
)

func TestHoldersFindsWorkingDirectory(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "60")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var found bool
	for _, h := range Holders(dir) {
		if h.PID == cmd.Process.Pid {
			found = h.How == "cwd" && h.Comm == "sleep"
			t.Log(h)
		}
	}
	if !found {
		t.Fatalf("Holders(%s) = %v, want pid %d (sleep, cwd)", dir, Holders(dir), cmd.Process.Pid)
	}
	if hs := Holders(filepath.Join(dir, "elsewhere")); len(hs) != 0 {
		t.Fatalf("holders of an unused directory: %v", hs)
	}
}

func TestMountInfoParsing(t *testing.T) {
	if ok, err := IsMountPoint("/"); err != nil || !ok {
		t.Errorf("IsMountPoint(/) = %v, %v", ok, err)
	}
	if ok, err := IsMountPoint(t.TempDir()); err != nil || ok {
		t.Errorf("IsMountPoint(a fresh directory) = %v, %v", ok, err)
	}
	maps := "7f00-7f01 r--p 00000000 00:2a 12 /mnt/drive/lib.so\n7f01-7f02 r--p 0 00:00 0 [heap]\n"
	if !mapsUnder(maps, "/mnt/drive") || mapsUnder(maps, "/mnt/dr") || mapsUnder(maps, "/other") {
		t.Error("mapsUnder")
	}
}
