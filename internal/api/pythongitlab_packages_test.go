package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

type pyPackage struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Version     *string `json:"version"`
	PackageType string  `json:"package_type"`
	Status      string  `json:"status"`
	CreatedAt   string  `json:"created_at"`
	// ProjectID is the group listing's number; in a project's listing python-gitlab fills in
	// its own parent attribute (a string).
	ProjectID any `json:"project_id"`
	Links     struct {
		WebPath       string `json:"web_path"`
		DeleteAPIPath string `json:"delete_api_path"`
	} `json:"links"`
}

type pyPackageFile struct {
	ID         int64  `json:"id"`
	PackageID  int64  `json:"package_id"`
	FileName   string `json:"file_name"`
	Size       int64  `json:"size"`
	FileSHA256 string `json:"file_sha256"`
	FileMD5    string `json:"file_md5"`
	FileSHA1   string `json:"file_sha1"`
}

type pyPackagesOutput struct {
	PythonGitlab       string          `json:"python_gitlab"`
	List               []pyPackage     `json:"list"`
	FirstPage          []int64         `json:"first_page"`
	Iterated           []int64         `json:"iterated"`
	ByName             []pyPackage     `json:"by_name"`
	ByType             []int64         `json:"by_type"`
	Get                pyPackage       `json:"get"`
	Files              []pyPackageFile `json:"files"`
	FilesAfterDelete   []pyPackageFile `json:"files_after_delete"`
	DeletedID          int64           `json:"deleted_id"`
	GetAfterDelete     pyError         `json:"get_after_delete"`
	DeleteAgain        pyError         `json:"delete_again"`
	ListAfterDelete    []pyPackage     `json:"list_after_delete"`
	GroupList          []pyPackage     `json:"group_list"`
	ReporterList       []int64         `json:"reporter_list"`
	ReporterDelete     pyError         `json:"reporter_delete"`
	ReporterFileDelete pyError         `json:"reporter_file_delete"`
	Warnings           []string        `json:"warnings"`
}

func pyNames(list []pyPackage) []string {
	out := []string{}
	for _, p := range list {
		v := "<none>"
		if p.Version != nil {
			v = *p.Version
		}
		out = append(out, p.Name+"@"+v)
	}
	return out
}

// TestPythonGitlabPackages runs a package clean-up script written for GitLab, with Debian's
// python-gitlab, against Gatehouse: list, filter, page, get, list files, delete a file and a
// package, list a group's packages; a reporter is refused the deletes.
func TestPythonGitlabPackages(t *testing.T) {
	t.Parallel()
	python := pythonGitlab(t)
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	child := f.Projects["child"]
	for _, u := range [][4]string{
		{"tool", "1.0.0", "tool.tar.gz", "tool one"},
		{"tool", "1.0.0", "README.txt", "readme"},
		{"tool", "2.0.0", "tool.tar.gz", "tool two"},
		{"lib", "0.1.0", "lib.bin", "lib"},
	} {
		uploadGeneric(t, ts, child.ID, u[0], u[1], u[2], u[3], "")
	}
	uploadGeneric(t, ts, f.Projects["top"].ID, "top-tool", "1.0.0", "top.bin", "top", "")
	maintainer := newUser(t, ts, "py-maint")
	addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), maintainer, 40)
	reporter := newUser(t, ts, "py-rep")
	addMember(t, ts, fmt.Sprintf("projects/%d", child.ID), reporter, 20)

	cmd := exec.CommandContext(t.Context(), python, "testdata/pythongitlab_packages.py")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8",
		"GATEHOUSE_URL=" + ts.URL, "GATEHOUSE_TOKEN=" + maintainer.PAT, "REPORTER_TOKEN=" + reporter.PAT,
		fmt.Sprintf("PROJECT_ID=%d", child.ID), fmt.Sprintf("GROUP_ID=%d", f.GroupID)}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python-gitlab script: %v\nstderr:\n%s\nserver log tail:\n%s", err, stderr.String(), tail(ts.Logs(), 4000))
	}
	var out pyPackagesOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("script output %q: %v", stdout.String(), err)
	}

	t.Run("ok/list, pages and filters", func(t *testing.T) {
		want := []string{"tool@1.0.0", "tool@2.0.0", "lib@0.1.0", "py-upload@0.0.1"}
		if got := pyNames(out.List); !slices.Equal(got, want) {
			t.Fatalf("packages.list(get_all=True) = %v, want %v (across pages of 2)", got, want)
		}
		var ids []int64
		for _, p := range out.List {
			ids = append(ids, p.ID)
			if p.PackageType != "generic" || p.Status != "default" || p.CreatedAt == "" || p.Links.DeleteAPIPath == "" {
				t.Errorf("package = %+v", p)
			}
		}
		if !slices.Equal(out.Iterated, ids) || !slices.Equal(out.FirstPage, ids[:2]) {
			t.Errorf("iterated %v, first page %v; listed %v", out.Iterated, out.FirstPage, ids)
		}
		if got := pyNames(out.ByName); !slices.Equal(got, []string{"tool@2.0.0", "tool@1.0.0"}) {
			t.Errorf("package_name=tool by version desc = %v", got)
		}
		if len(out.ByType) != 0 {
			t.Errorf("package_type=npm = %v", out.ByType)
		}
	})
	t.Run("ok/get and files", func(t *testing.T) {
		if out.Get.Name != "tool" || out.Get.Version == nil || *out.Get.Version != "1.0.0" {
			t.Fatalf("get = %+v", out.Get)
		}
		sum := sha256.Sum256([]byte("tool one"))
		if len(out.Files) != 2 || out.Files[0].FileName != "tool.tar.gz" || out.Files[0].PackageID != out.Get.ID ||
			out.Files[0].Size != int64(len("tool one")) || out.Files[0].FileSHA256 != hexSum(sum[:]) ||
			out.Files[0].FileMD5 == "" || out.Files[0].FileSHA1 == "" || out.Files[1].FileName != "README.txt" {
			t.Fatalf("files = %+v", out.Files)
		}
	})
	t.Run("ok/deletes", func(t *testing.T) {
		if len(out.FilesAfterDelete) != 1 || out.FilesAfterDelete[0].FileName != "README.txt" {
			t.Errorf("files after package_files.delete = %+v", out.FilesAfterDelete)
		}
		if e := out.GetAfterDelete; e.Code == nil || *e.Code != 404 || e.Type == nil || *e.Type != "GitlabGetError" {
			t.Errorf("get after delete = %+v", e)
		}
		if e := out.DeleteAgain; e.Code == nil || *e.Code != 404 || e.Type == nil || *e.Type != "GitlabDeleteError" {
			t.Errorf("delete again = %+v", e)
		}
		if got := pyNames(out.ListAfterDelete); !slices.Equal(got, []string{"tool@1.0.0", "lib@0.1.0", "py-upload@0.0.1"}) {
			t.Errorf("list after delete = %v", got)
		}
	})
	t.Run("ok/group list", func(t *testing.T) {
		got := pyNames(out.GroupList)
		if !slices.Equal(got, []string{"tool@1.0.0", "lib@0.1.0", "top-tool@1.0.0", "py-upload@0.0.1"}) {
			t.Fatalf("group.packages.list = %v", got)
		}
		for _, p := range out.GroupList {
			if id, ok := p.ProjectID.(float64); !ok || (int64(id) != child.ID && int64(id) != f.Projects["top"].ID) {
				t.Errorf("group package without its project: %+v", p)
			}
		}
	})
	t.Run("fail/reporter cannot delete", func(t *testing.T) {
		if len(out.ReporterList) != 3 {
			t.Errorf("reporter list = %v", out.ReporterList)
		}
		for name, e := range map[string]pyError{"package": out.ReporterDelete, "file": out.ReporterFileDelete} {
			if e.Code == nil || *e.Code != 403 || e.Type == nil || *e.Type != "GitlabDeleteError" {
				t.Errorf("reporter %s delete = %+v, want GitlabDeleteError 403", name, e)
			}
		}
	})
	t.Run("ok/no client warnings", func(t *testing.T) {
		if len(out.Warnings) != 0 {
			t.Errorf("python-gitlab warned: %q", out.Warnings)
		}
	})
	if strings.Contains(stderr.String(), "Traceback") {
		t.Errorf("script stderr: %s", stderr.String())
	}
	if _, err := os.Stat("testdata/__pycache__"); err == nil {
		t.Errorf("the script left a __pycache__ in testdata")
	}
}
