"""Shipping where users deploy (docs/deploy.md):

1. the Wasm OCI image layouts `scripts/oci` writes to dist/oci/<name>/ are valid images in the
   format Istio and Envoy Gateway pull, and reproducible (same bytes twice);
2. pushed with skopeo into a real registry (Debian's docker-registry, the CNCF Distribution
   registry, on 127.0.0.1) and pulled back, they keep their digests and annotations;
3. Envoy loads the modules over HTTP (`vm_config.code.remote`, envoy-config/gateway-remote.yaml)
   with their sha256 pinned, and refuses a module whose sha256 is wrong;
4. the Kubernetes manifests in envoy-config/kubernetes/ are what scripts/k8s-manifests generates
   from envoy-config/plugins/*.json, and valid against the Istio and Envoy Gateway CRD schemas.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_all, skip_or_fail_missing

from harness import DIST_DIR, ROOT
from harness import registry as reg

OCI_SCRIPT = ROOT / "scripts" / "oci"
WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm"
WASM_CONFIG = "application/vnd.module.wasm.config.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def dist_manifest() -> dict:
    path = DIST_DIR / "manifest.json"
    if not path.is_file():
        skip_or_fail_missing(["auth"], "dist/manifest.json")
    return json.loads(path.read_text(encoding="utf-8"))


MODULES = [m["name"] for m in json.loads((DIST_DIR / "manifest.json").read_text())["filters"]] \
    if (DIST_DIR / "manifest.json").is_file() else ["auth"]


def cargo_version() -> str:
    in_section = False
    for line in (ROOT / "Cargo.toml").read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            in_section = line.strip() == "[workspace.package]"
        elif in_section and line.split("=")[0].strip() == "version":
            return line.split("=", 1)[1].strip().strip('"')
    raise AssertionError("no [workspace.package] version in Cargo.toml")


def git_head() -> str | None:
    r = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def run_oci(out: Path, **env) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, str(OCI_SCRIPT), "--dist", str(DIST_DIR), "--out", str(out)],
        capture_output=True, text=True, env={**os.environ, **env}, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def tree_bytes(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def read_layout(path: Path) -> dict:
    """The layout's parts, every blob checked against its digest and every descriptor's size."""
    assert json.loads((path / "oci-layout").read_bytes()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((path / "index.json").read_bytes())
    blobs = {}
    for blob in (path / "blobs" / "sha256").iterdir():
        data = blob.read_bytes()
        assert hashlib.sha256(data).hexdigest() == blob.name, f"{blob} does not hash to its name"
        blobs[f"sha256:{blob.name}"] = data

    def fetch(desc: dict) -> bytes:
        data = blobs[desc["digest"]]
        assert len(data) == desc["size"], desc
        return data

    assert index["schemaVersion"] == 2
    # mediaType is optional in an index (skopeo's layouts leave it out; ours set it).
    assert index.get("mediaType", "application/vnd.oci.image.index.v1+json") == "application/vnd.oci.image.index.v1+json"
    assert len(index["manifests"]) == 1, index
    mdesc = index["manifests"][0]
    assert mdesc["mediaType"] == OCI_MANIFEST
    manifest_bytes = fetch(mdesc)
    manifest = json.loads(manifest_bytes)
    config_bytes = fetch(manifest["config"])
    assert len(manifest["layers"]) == 1, manifest["layers"]
    layer_bytes = fetch(manifest["layers"][0])
    used = {mdesc["digest"], manifest["config"]["digest"], manifest["layers"][0]["digest"]}
    assert set(blobs) == used, f"stray blobs: {set(blobs) - used}"
    return {
        "index": index, "ref": mdesc["annotations"]["org.opencontainers.image.ref.name"],
        "digest": mdesc["digest"], "manifest_bytes": manifest_bytes, "manifest": manifest,
        "config": json.loads(config_bytes), "layer": layer_bytes,
    }


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# 1. the image layouts ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def oci_dir(tmp_path_factory) -> Path:
    """Images of the current dist/, written by scripts/oci (as scripts/build does)."""
    dist_manifest()
    out = tmp_path_factory.mktemp("oci") / "a"
    run_oci(out)
    return out


@pytest.mark.parametrize("name", MODULES)
def test_layout_is_a_wasm_image(oci_dir, name):
    module = next(m for m in dist_manifest()["filters"] if m["name"] == name)
    image = read_layout(oci_dir / name)
    manifest = image["manifest"]
    assert manifest["schemaVersion"] == 2 and manifest["mediaType"] == OCI_MANIFEST
    assert image["index"]["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert manifest["config"]["mediaType"] == WASM_CONFIG
    layer = manifest["layers"][0]
    assert layer["mediaType"] == WASM_LAYER
    # The layer is the module itself, byte for byte: its digest is the sha256 in SHA256SUMS.
    wasm = (DIST_DIR / module["file"]).read_bytes()
    assert image["layer"] == wasm
    assert layer["digest"] == f"sha256:{module['sha256']}"
    sums = (DIST_DIR / "SHA256SUMS").read_text().split()
    assert sums[sums.index(module["file"]) - 1] == module["sha256"]
    assert image["layer"][:4] == b"\0asm"
    # Runtime config of the Wasm image spec.
    assert image["config"]["type"] == "envoy_proxy"
    assert f"v{module['abi_version']}" in image["config"]["abiVersions"]
    roots = image["config"]["config"]["rootIds"]
    assert roots == (["gateway", "auth", "quota", "analytics", "routing"] if name.startswith("bundle")
                     else [name.removesuffix("_portable")])
    ann = manifest["annotations"]
    assert ann["org.opencontainers.image.version"] == module["version"] == cargo_version()
    assert image["ref"] == module["version"]
    assert ann["io.proxy-wasm.abi.version"] == module["abi_version"] == "0.2.1"
    assert ann["org.opencontainers.image.title"] == "filter-" + name.replace("_", "-")
    assert ann["org.opencontainers.image.source"].startswith("https://github.com/")
    head = git_head()
    if head is not None:
        assert ann["org.opencontainers.image.revision"] == head
    assert ann["org.opencontainers.image.created"].endswith("Z")
    # Canonical JSON: sorted keys, no whitespace (one byte form for one content).
    assert image["manifest_bytes"] == canonical(manifest)
    assert (oci_dir / name / "index.json").read_bytes() == canonical(image["index"])


def test_images_are_reproducible(oci_dir, tmp_path):
    """Twice from the same dist/ and commit: the same bytes, file for file (no build time, no
    compression); only what the commit says changes (SOURCE_DATE_EPOCH moves `created`)."""
    second = tmp_path / "b"
    run_oci(second)
    first_tree, second_tree = tree_bytes(oci_dir), tree_bytes(second)
    assert first_tree.keys() == second_tree.keys()
    assert [k for k in first_tree if first_tree[k] != second_tree[k]] == []
    assert (second / "DIGESTS").read_text() == (oci_dir / "DIGESTS").read_text()
    # dist/oci from scripts/build: the same images when it was built from this commit's dist/.
    built = DIST_DIR / "oci"
    if (built / "DIGESTS").is_file() and all(
        read_layout(built / n)["manifest"]["annotations"]["org.opencontainers.image.revision"] == git_head()
        and read_layout(built / n)["layer"] == (DIST_DIR / f"filter_{n}.wasm").read_bytes()
        for n in MODULES
    ):
        assert (built / "DIGESTS").read_text() == (oci_dir / "DIGESTS").read_text()
    # The time comes from the commit (or SOURCE_DATE_EPOCH), never from the clock.
    third = tmp_path / "c"
    run_oci(third, SOURCE_DATE_EPOCH="1700000000")
    image = read_layout(third / "auth")
    assert image["manifest"]["annotations"]["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z"
    assert image["digest"] != read_layout(oci_dir / "auth")["digest"]


def test_skopeo_reads_the_layouts(oci_dir):
    """skopeo (containers/image) reads every layout by its tag and sees the same manifest."""
    skip_or_fail_registry()
    for name in MODULES:
        image = read_layout(oci_dir / name)
        raw = reg.skopeo("inspect", "--raw", f"oci:{oci_dir / name}:{image['ref']}").stdout
        assert raw == image["manifest_bytes"]


# 2. a real registry ----------------------------------------------------------------------------
def skip_or_fail_registry() -> None:
    reason = reg.unavailable()
    if reason is None:
        return
    if require_all() or os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    skip_or_fail_registry()
    r = reg.Registry(tmp_path_factory.mktemp("registry"))
    r.start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture(scope="module")
def pushed(registry, oci_dir):
    """Every image pushed with `skopeo copy oci:... docker://127.0.0.1:PORT/gateway/<image>:<tag>`."""
    refs = {}
    for name in MODULES:
        image = read_layout(oci_dir / name)
        title = image["manifest"]["annotations"]["org.opencontainers.image.title"]
        ref = f"{registry.host}/gateway/{title}:{image['ref']}"
        reg.skopeo("copy", "--quiet", "--dest-tls-verify=false",
                   f"oci:{oci_dir / name}:{image['ref']}", f"docker://{ref}")
        refs[name] = (ref, image)
    return refs


@pytest.mark.parametrize("name", MODULES)
def test_registry_keeps_the_image(registry, pushed, name):
    ref, image = pushed[name]
    # skopeo inspect --raw: the manifest exactly as built, so its digest is the layout's.
    raw = reg.skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}").stdout
    assert raw == image["manifest_bytes"]
    assert f"sha256:{hashlib.sha256(raw).hexdigest()}" == image["digest"]
    manifest = json.loads(raw)
    assert manifest["config"]["mediaType"] == WASM_CONFIG
    assert [layer["mediaType"] for layer in manifest["layers"]] == [WASM_LAYER]
    ann = manifest["annotations"]
    assert ann["org.opencontainers.image.version"] == image["ref"]
    assert ann["io.proxy-wasm.abi.version"] == "0.2.1"
    assert {"org.opencontainers.image.source", "org.opencontainers.image.revision",
            "org.opencontainers.image.title", "org.opencontainers.image.created"} <= ann.keys()
    # The registry's own answer (the HTTP API Istio's and Envoy Gateway's pullers use).
    repo, tag = ref.split("/", 1)[1].rsplit(":", 1)
    status, headers, body = registry.get(f"/v2/{repo}/manifests/{tag}", accept=OCI_MANIFEST)
    assert status == 200, body
    assert headers.get("Docker-Content-Digest") == image["digest"]
    assert headers.get("Content-Type") == OCI_MANIFEST
    status, _, blob = registry.get(f"/v2/{repo}/blobs/{manifest['layers'][0]['digest']}")
    assert status == 200 and blob == image["layer"]
    # skopeo's config view: the Wasm runtime config, not an image config.
    config = json.loads(reg.skopeo("inspect", "--raw", "--config", "--tls-verify=false", f"docker://{ref}").stdout)
    assert config["type"] == "envoy_proxy"


@pytest.mark.parametrize("name", MODULES)
def test_pull_back_by_digest(pushed, tmp_path, name):
    """Pulled back by digest into a new layout: the same manifest, config and module bytes."""
    ref, image = pushed[name]
    by_digest = f"{ref.rsplit(':', 1)[0]}@{image['digest']}"
    dest = tmp_path / name
    reg.skopeo("copy", "--quiet", "--src-tls-verify=false", f"docker://{by_digest}", f"oci:{dest}:{image['ref']}")
    pulled = read_layout(dest)
    assert pulled["digest"] == image["digest"]
    assert pulled["manifest_bytes"] == image["manifest_bytes"]
    assert pulled["layer"] == (DIST_DIR / f"filter_{name}.wasm").read_bytes()
    assert hashlib.sha256(pulled["layer"]).hexdigest() == image["manifest"]["layers"][0]["digest"][7:]


def test_registry_refuses_a_wrong_digest(registry, pushed):
    """A reference by a digest the registry does not hold is not served (a pinned pull fails)."""
    ref, image = pushed["auth"]
    wrong = "sha256:" + hashlib.sha256(b"not the module").hexdigest()
    repo = ref.split("/", 1)[1].rsplit(":", 1)[0]
    status, _, _ = registry.get(f"/v2/{repo}/manifests/{wrong}", accept=OCI_MANIFEST)
    assert status == 404


# 3. Envoy loading the modules over HTTP with a pinned sha256 ------------------------------------
REMOTE = "gateway-remote.yaml"
WRONG_SHA256 = hashlib.sha256(b"not filter_quota.wasm").hexdigest()


def serve_modules(stack) -> None:
    """before_start: a module server for dist/ on the template's MODULES_PORT, a stack server."""
    from harness.remote import ModuleServer

    stack.modules = ModuleServer(DIST_DIR, stack.ports["MODULES_PORT"])
    stack.servers.append(stack.modules)


@pytest.fixture(scope="module")
def remote_gw(stack_factory):
    return stack_factory(REMOTE, before_start=serve_modules)


@pytest.fixture(scope="module")
def wrong_sha_gw(stack_factory):
    """gateway-remote.yaml with quota's pinned sha256 wrong (the module server serves the real one)."""

    def before(stack):
        serve_modules(stack)
        assert "{{QUOTA_SHA256}}" in stack.template_text
        stack.template_text = stack.template_text.replace("{{QUOTA_SHA256}}", WRONG_SHA256)

    return stack_factory(REMOTE, before_start=before)


def test_remote_template_is_gateway_yaml_with_remote_code():
    """gateway-remote.yaml is gateway.yaml but for `code` (remote, pinned) and the modules cluster."""
    yaml = pytest.importorskip("yaml")
    from harness import envoy
    from harness.stack import allocate_ports, template_values

    values = template_values(allocate_ports())
    local = yaml.safe_load(envoy.render(envoy.template("gateway.yaml"), values))
    remote = yaml.safe_load(envoy.render(envoy.template(REMOTE), values))
    clusters = remote["static_resources"]["clusters"]
    modules = next(c for c in clusters if c["name"] == "modules")
    clusters.remove(modules)
    port = modules["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
    assert port == {"address": "127.0.0.1", "port_value": values["MODULES_PORT"]}
    sums = (DIST_DIR / "SHA256SUMS").read_text().split() if (DIST_DIR / "SHA256SUMS").is_file() else []
    hcm = remote["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    seen = []
    for f in hcm["http_filters"]:
        config = f["typed_config"].get("config")
        if not config:
            continue
        code = config["vm_config"]["code"]
        name = config["root_id"]
        seen.append(name)
        uri = code["remote"]["http_uri"]
        assert uri["uri"] == f"http://127.0.0.1:{values['MODULES_PORT']}/filter_{name}.wasm"
        assert uri["cluster"] == "modules"
        assert code["remote"]["sha256"] == values[f"{name.upper()}_SHA256"]
        if sums:
            assert code["remote"]["sha256"] == sums[sums.index(f"filter_{name}.wasm") - 1]
        config["vm_config"]["code"] = {"local": {"filename": f"{values['DIST']}/filter_{name}.wasm"}}
    assert seen == ["auth", "quota", "analytics", "routing"]
    assert remote == local


def test_envoy_serves_with_remotely_loaded_modules(remote_gw):
    from checks import api_key

    # Each module was fetched over HTTP (no file path in the config), and every fetch matched.
    assert set(remote_gw.modules.requests) == {
        f"/filter_{n}.wasm" for n in ("auth", "quota", "analytics", "routing")}
    assert "filename:" not in remote_gw.rendered()
    stats = remote_gw.envoy.stats("remote_load")
    assert stats["wasm.remote_load_fetch_successes"] == 4, stats
    assert stats["wasm.remote_load_fetch_failures"] == 0, stats
    # The whole chain runs: auth refuses, then admits alice, quota counts, routing picks v2.
    r = remote_gw.request("/v1/orders")
    assert r.status == 401 and r.header("content-type") == "application/problem+json", r
    r = remote_gw.request("/v2/orders", headers=api_key("alice"))
    assert r.status == 200, r
    assert r.upstream() == "v2"
    assert r.header("ratelimit-policy") or r.header("x-ratelimit-limit"), r.headers
    seen = remote_gw.v2.wait_requests(1)[-1]
    assert seen.header("x-gateway-consumer") == "alice"
    assert seen.header("x-gateway-version") == "v2"
    counters = remote_gw.envoy.stats("quota_admitted")
    assert any(v >= 1 for k, v in counters.items() if "quota_admitted" in k), counters


def test_envoy_refuses_a_module_with_the_wrong_sha256(wrong_sha_gw):
    """Quota's bytes were fetched but do not hash to the pinned value: Envoy refuses the module
    (never compiles or runs it; quota is FAIL_CLOSED, so no request passes without it)."""
    from checks import api_key

    gw = wrong_sha_gw
    assert "/filter_quota.wasm" in gw.modules.requests
    stats = gw.envoy.stats("remote_load")
    assert stats["wasm.remote_load_fetch_failures"] >= 1, stats
    assert stats["wasm.remote_load_fetch_successes"] == 3, stats
    log = gw.envoy.log_path.read_text(errors="replace")
    assert "Plugin quota failed to load" in log
    for other in ("auth", "analytics", "routing"):
        assert f"Plugin {other} failed to load" not in log
    # The quota module never ran: none of its counters exist (it defines them when it starts),
    # while the other three modules' do.
    names = gw.envoy.stats("quota_|auth_|routing_")
    assert not [k for k in names if "quota_" in k], names
    assert [k for k in names if "auth_" in k] and [k for k in names if "routing_" in k], names
    # Requests are refused, never served without quota: alice (admitted by auth) gets a 5xx and
    # no upstream sees her request.
    gw.clear()
    r = gw.request("/v2/orders", headers=api_key("alice"))
    assert r.status >= 500, r
    assert r.header("ratelimit-policy") is None and r.header("x-ratelimit-limit") is None
    assert not gw.v1.requests and not gw.v2.requests


# 4. Kubernetes manifests -----------------------------------------------------------------------
K8S_DIR = ROOT / "envoy-config" / "kubernetes"
SCHEMA_DIR = K8S_DIR / "schemas"
SHARED_SCHEMAS = ROOT.parent / "shared" / "schemas"
K8S_SCRIPT = ROOT / "scripts" / "k8s-manifests"
FILTERS = ("auth", "quota", "analytics", "routing")
FAIL_CLOSED = {"auth": True, "quota": True, "analytics": False, "routing": True, "bundle": True}


def k8s_module():
    """scripts/k8s-manifests as a module (it has no .py suffix)."""
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.SourceFileLoader("k8s_manifests", str(K8S_SCRIPT))
    spec = importlib.util.spec_from_loader("k8s_manifests", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def load_docs(path: Path) -> list[dict]:
    yaml = pytest.importorskip("yaml")
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def schema_for(doc: dict) -> dict:
    group, version = doc["apiVersion"].split("/")
    return json.loads((SCHEMA_DIR / f"{group}_{doc['kind']}_{version}.json").read_text(encoding="utf-8"))


def validate(doc: dict) -> None:
    """The CRD schema, plus the CEL rules of the CRDs (not in the schemas) these manifests meet."""
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(doc, schema_for(doc), format_checker=jsonschema.FormatChecker())
    spec = doc["spec"]
    refs = spec.get("targetRefs", [])
    assert refs and all(r["group"] == "gateway.networking.k8s.io" and r["kind"] == "Gateway" for r in refs)
    if doc["kind"] == "WasmPlugin":
        assert "selector" not in spec and "targetRef" not in spec  # only one of them
        assert spec["url"].startswith("oci://")
    else:
        for w in spec["wasm"]:
            assert w["code"]["type"] == "Image" and "image" in w["code"] and "http" not in w["code"]


def k8s_files() -> list[str]:
    return sorted(p.name for p in K8S_DIR.glob("*.yaml"))


def test_manifests_do_not_drift(tmp_path):
    """envoy-config/kubernetes/ is exactly what the script writes from envoy-config/plugins/."""
    result = subprocess.run([sys.executable, str(K8S_SCRIPT), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    subprocess.run([sys.executable, str(K8S_SCRIPT), "--out", str(tmp_path)], check=True)
    assert sorted(p.name for p in tmp_path.glob("*.yaml")) == k8s_files()
    # --check notices a change (a plugin configuration edited without regenerating).
    (tmp_path / "istio-gateway.yaml").write_text(
        (tmp_path / "istio-gateway.yaml").read_text().replace("FAIL_CLOSE", "FAIL_OPEN", 1))
    result = subprocess.run([sys.executable, str(K8S_SCRIPT), "--check", "--out", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "istio-gateway.yaml" in result.stderr


@pytest.mark.parametrize("name", k8s_files())
def test_manifest_is_valid_and_matches_the_plugins(name):
    k8s = k8s_module()
    docs = load_docs(K8S_DIR / name)
    version = cargo_version()
    plugins = {n: json.loads((ROOT / "envoy-config" / "plugins" / f"{n}.json").read_text()) for n in FILTERS}
    for doc in docs:
        validate(doc)
        spec = doc["spec"]
        if doc["kind"] == "WasmPlugin":
            root = spec["pluginName"]
            module = "bundle" if root == "gateway" else root
            assert spec["url"] == f"oci://ghcr.io/api-gateway-wasm/proxy-wasm-gateway/filter-{module}:{version}"
            assert spec["failStrategy"] == ("FAIL_CLOSE" if FAIL_CLOSED[module] else "FAIL_OPEN")
            want = {"auth": "AUTHN", "quota": "AUTHZ", "analytics": "STATS",
                    "routing": "UNSPECIFIED_PHASE", "bundle": "AUTHN"}[module]
            assert spec["phase"] == want
            config = spec["pluginConfig"]
            expect = ({n: k8s.with_clusters(n, plugins[n], k8s.ISTIO_CLUSTERS) for n in FILTERS}
                      if module == "bundle" else k8s.with_clusters(module, plugins[module], k8s.ISTIO_CLUSTERS))
            assert config == expect
        else:
            roots = [w["rootID"] for w in spec["wasm"]]
            assert roots in (list(FILTERS), ["gateway"])
            for w in spec["wasm"]:
                module = "bundle" if w["rootID"] == "gateway" else w["rootID"]
                assert w["code"]["image"]["url"] == \
                    f"ghcr.io/api-gateway-wasm/proxy-wasm-gateway/filter-{module}:{version}"
                assert w["failOpen"] is not FAIL_CLOSED[module]
                assert w["config"] == (plugins if module == "bundle" else plugins[module])
    kinds = [d["kind"] for d in docs]
    assert kinds == (["WasmPlugin"] * 4 if name == "istio-gateway.yaml" else
                     ["WasmPlugin"] if name.startswith("istio") else ["EnvoyExtensionPolicy"])


def test_all_filters_and_the_bundle_have_manifests():
    assert k8s_files() == ["envoy-gateway-bundle.yaml", "envoy-gateway-gateway.yaml",
                           "istio-bundle.yaml", "istio-gateway.yaml"]


def test_schemas_catch_mistakes():
    """The validator really checks: a misspelled field and a wrong enum are refused."""
    jsonschema = pytest.importorskip("jsonschema")
    plugin = load_docs(K8S_DIR / "istio-gateway.yaml")[0]
    plugin["spec"]["pluginConfg"] = plugin["spec"].pop("pluginConfig")
    with pytest.raises(jsonschema.ValidationError):
        validate(plugin)
    policy = load_docs(K8S_DIR / "envoy-gateway-bundle.yaml")[0]
    policy["spec"]["wasm"][0]["code"]["type"] = "OCI"
    with pytest.raises(jsonschema.ValidationError):
        validate(policy)
    plugin = load_docs(K8S_DIR / "istio-bundle.yaml")[0]
    plugin["spec"]["failStrategy"] = "FAIL_CLOSED"  # Envoy's spelling, not Istio's
    with pytest.raises(jsonschema.ValidationError):
        validate(plugin)


def test_schema_copies_are_the_shared_ones():
    if not SHARED_SCHEMAS.is_dir():
        pytest.skip(f"{SHARED_SCHEMAS} not beside this checkout: the copies in {SCHEMA_DIR} are used")
    for copy in sorted(SCHEMA_DIR.glob("*.json")):
        assert copy.read_bytes() == (SHARED_SCHEMAS / copy.name).read_bytes(), copy.name
    assert len(list(SCHEMA_DIR.glob("*.json"))) == 2


def test_pinned_manifests_name_the_pushed_images(registry, pushed, oci_dir, tmp_path):
    """`--pin` (what scripts/build writes to dist/kubernetes/): every image by its digest, and
    that digest is what the registry serves for it."""
    subprocess.run([sys.executable, str(K8S_SCRIPT), "--pin", str(oci_dir), "--registry",
                    f"{registry.host}/gateway", "--out", str(tmp_path)], check=True)
    refs = []
    for path in sorted(tmp_path.glob("*.yaml")):
        for doc in load_docs(path):
            validate(doc)
            if doc["kind"] == "WasmPlugin":
                refs.append((doc["spec"]["url"].removeprefix("oci://"), doc["spec"]["sha256"]))
            else:
                refs += [(w["code"]["image"]["url"], w["code"]["image"]["sha256"]) for w in doc["spec"]["wasm"]]
    assert len(refs) == 4 + 1 + 4 + 1
    for ref, sha in refs:
        module = ref.split("/filter-", 1)[1].split("@")[0].replace("-", "_")
        assert ref.endswith(f"@sha256:{sha}")
        assert f"sha256:{sha}" == read_layout(oci_dir / module)["digest"]
        raw = reg.skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}").stdout
        assert hashlib.sha256(raw).hexdigest() == sha


def test_kong_example_holds_the_plugin_configs():
    """nginx-config/kong-filter-chain.yaml (Kong Gateway's filter chain) is reused, not copied:
    its filter configurations are the plugin JSON with Kong's documented host:port callouts."""
    pytest.importorskip("yaml")
    assert k8s_module().kong_drift() == []
