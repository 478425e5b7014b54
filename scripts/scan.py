"""`make scan`: wapiti and sqlmap against the portal on loopback, logged in as a dealer and as a manager, and bandit
on the source. Prints what was tested and a summary; exits 1 on a finding of medium or higher that is not explained.

The portal runs as in production: gunicorn over HTTPS (a throwaway self-signed certificate), the production
configuration (Secure cookies, a random secret key), on a fresh SQLite database with the demo data, so the
scanners may write whatever they like. Login rate limits are off: the scanners log in once but post many forms.

- wapiti: the 13 modules the issue names, crawling from the user's home with the session cookie of a real login;
  logging out, changing the password or the language and the two-factor pages are left out, so the scan keeps its
  session and its language. Its crawl (the session database) is read afterwards for the number of pages and
  parameters it tested.
- sqlmap: every parametrised request wapiti's crawl found (GET queries and POST forms, ids folded together), each
  with a fresh CSRF token read from the page the form was on (--csrf-token/--csrf-url), plus the login form.
- bandit: portal/ and config.py, every test, at every severity.
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import sqlite3
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import CSRF_TOKEN, PASSWORD, ROOT, flask, free_port, gunicorn_command

SCAN_BIN = ROOT / ".scan-venv" / "bin"
WORK = ROOT / "instance" / "scan"
MODULES = "xss,sql,timesql,exec,file,redirect,crlf,csrf,http_headers,csp,cookieflags,methods,permanentxss"
ROLES = (("dealer", "dealer@demo.test", "/dealer/"), ("manager", "manager@demo.test", "/console/"))
# Left out of the crawl: they end the session, change its language, or sign in differently (all tested elsewhere).
EXCLUDED = ("/logout", "/account/password", "/language", "/account/two-factor*", "/login*")
LEVELS = {0: "info", 1: "low", 2: "medium", 3: "high", 4: "critical"}
# Findings of medium or higher that are understood and written up in the README ("Security and reliability").
EXPLAINED: dict[str, str] = {}
UNVERIFIED = ssl._create_unverified_context()  # noqa: S323 - our own throwaway certificate on loopback


@dataclass
class RoleResult:
    role: str
    pages: int = 0
    parameters: int = 0
    findings: list[dict[str, object]] = field(default_factory=list)
    sqlmap_targets: int = 0
    sqlmap_parameters: int = 0
    injectable: list[str] = field(default_factory=list)
    seconds: float = 0.0


def certificate() -> tuple[Path, Path]:
    key, cert = WORK / "key.pem", WORK / "cert.pem"
    subprocess.run(  # noqa: S603
        [  # noqa: S607 - Debian's openssl, found on PATH as the scan's other tools are
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


def scan_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "FLASK_APP": "portal",
            "PORTAL_CONFIG": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "RATELIMIT_ENABLED": "0",
            "PORTAL_BASE_URL": "https://127.0.0.1",
        }
    )
    return env


@contextlib.contextmanager
def served(env: dict[str, str], key: Path, cert: Path) -> Iterator[str]:
    """gunicorn over HTTPS on a fresh copy of the demo database: each tool and role starts from the same data (a
    crawl adds hundreds of trainees and claims, and the next scan would otherwise compare pages that size)."""
    shutil.copyfile(WORK / "demo.db", WORK / "portal.db")
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603
        gunicorn_command(port, "--certfile", str(cert), "--keyfile", str(key), "--log-level", "error"),
        env=env,
        cwd=ROOT,
    )
    try:
        for _attempt in range(100):
            try:
                urllib.request.urlopen(f"{base}/ping", timeout=1, context=UNVERIFIED).read()  # noqa: S310 - ours
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("the portal did not start")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


def log_in(base: str, email: str, home: str) -> str:
    """A real login through the form, then one page, so the session already holds its CSRF secret: the tokens the
    scanners read from pages then stay valid even when they ignore the cookies the portal sends back."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar), urllib.request.HTTPSHandler(context=UNVERIFIED)
    )
    page = opener.open(f"{base}/login").read().decode()
    token = CSRF_TOKEN.search(page)
    assert token, "no CSRF token on the login page"
    form = urllib.parse.urlencode({"csrf_token": token.group(1), "email": email, "password": PASSWORD}).encode()
    # Over HTTPS, Flask-WTF also wants a Referer from the portal itself (WTF_CSRF_SSL_STRICT), as a browser sends.
    login = urllib.request.Request(f"{base}/login", data=form, headers={"Referer": f"{base}/login"})  # noqa: S310
    opener.open(login).read()
    opener.open(f"{base}{home}").read()
    cookies = {cookie.name: cookie.value for cookie in jar}
    assert "portal_session" in cookies, f"login failed for {email}"
    return f"portal_session={cookies['portal_session']}"


def run_wapiti(base: str, role: str, cookie: str, home: str, args: argparse.Namespace) -> tuple[Path, Path]:
    report = WORK / f"wapiti-{role}.json"
    store = WORK / f"wapiti-{role}-session"
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    command = [
        str(SCAN_BIN / "wapiti"),
        "-u",
        f"{base}/",
        "-s",
        f"{base}{home}",
        "--scope",
        "folder",
        "-m",
        MODULES,
        "-C",
        cookie,
        "--flush-session",
        "--store-session",
        str(store),
        "-f",
        "json",
        "-o",
        str(report),
        "-d",
        str(args.depth),
        "--max-links-per-page",
        "60",
        "--max-files-per-dir",
        str(args.max_files),
        "--max-scan-time",
        str(args.max_scan_time),
        "--max-attack-time",
        str(args.max_attack_time),
        "--verify-ssl",
        "0",
        "--no-bugreport",
        "--tasks",
        "8",
        "-t",
        "20",
        "--detailed-report",
        "1",
    ]
    for path in EXCLUDED:
        command += ["-x", f"{base}{path}"]
    log = WORK / f"wapiti-{role}.log"
    with log.open("w") as output:
        subprocess.run(command, check=False, stdout=output, stderr=subprocess.STDOUT, cwd=WORK)  # noqa: S603
    return report, store


@dataclass(frozen=True)
class Target:
    method: str
    url: str
    body: str
    referer: str
    parameters: tuple[str, ...]


def crawled_requests(store: Path) -> list[Target]:
    """Every request wapiti's crawler found and its modules attacked, with its parameters (its session database)."""
    databases = list(store.glob("*.db"))
    if not databases:
        return []
    connection = sqlite3.connect(databases[0])
    try:
        rows = connection.execute(
            "SELECT path_id, path, method, referer FROM paths WHERE evil = 0 "
            "AND path_id IN (SELECT path_id FROM attack_logs)"  # what the attack modules really went through
        ).fetchall()
        params = connection.execute("SELECT path_id, type, name, value1 FROM params ORDER BY path_id, position")
        by_path: dict[int, list[tuple[str, str, str]]] = {}
        for path_id, kind, name, value in params.fetchall():
            by_path.setdefault(path_id, []).append((kind, name, value or ""))
    finally:
        connection.close()
    targets = []
    for path_id, path, method, referer in rows:
        fields = by_path.get(path_id, [])
        query = [(name, value) for kind, name, value in fields if kind == "GET"]
        posted = [(name, value) for kind, name, value in fields if kind == "POST"]
        files = [name for kind, name, _value in fields if kind == "FILE"]
        if files:
            posted += [(name, "x") for name in files]  # sqlmap sends form fields only; the file becomes text
        url = path + ("?" + urllib.parse.urlencode(query) if query else "")
        names = tuple(name for name, _value in query + posted if name != "csrf_token")
        targets.append(Target(method, url, urllib.parse.urlencode(posted), referer or "", names))
    return targets


def sqlmap_targets(targets: list[Target]) -> list[Target]:
    """One request per route and parameter set: /claims/12/edit and /claims/13/edit test the same code."""
    chosen: dict[tuple[str, str, tuple[str, ...]], Target] = {}
    for target in targets:
        if not target.parameters:
            continue
        route = re.sub(r"/\d+(?=/|$|\?)", "/{id}", urllib.parse.urlsplit(target.url).path)
        chosen.setdefault((target.method, route, target.parameters), target)
    return list(chosen.values())


def run_sqlmap(target: Target, cookie: str | None, role: str, number: int) -> tuple[int, bool]:
    output_dir = WORK / f"sqlmap-{role}-{number}"
    shutil.rmtree(output_dir, ignore_errors=True)
    command = [
        str(SCAN_BIN / "sqlmap"),
        "-u",
        target.url,
        "--batch",
        "--smart",
        "--level",
        "1",
        "--risk",
        "1",
        "--output-dir",
        str(output_dir),
        "--timeout",
        "20",
        "--retries",
        "1",
        "--skip",
        "csrf_token",
        "--disable-coloring",
        "--text-only",
    ]
    if cookie:  # the session of a login, kept as it is (see log_in); anonymous, sqlmap keeps the login page's
        command += ["--cookie", cookie, "--drop-set-cookie"]
    if target.method == "POST":
        command += ["--data", target.body]
    if "csrf_token" in target.body or "csrf_token" in target.url:
        command += ["--csrf-token", "csrf_token", "--csrf-url", target.referer or target.url]
    command += ["--referer", target.referer or target.url]  # HTTPS: the CSRF check wants the portal's own Referer
    result = subprocess.run(command, check=False, capture_output=True, text=True, cwd=WORK)  # noqa: S603
    tested = set(re.findall(r"(?:GET|POST) parameter '([^']+)'", result.stdout)) - {"csrf_token"}
    injectable = "identified the following injection point" in result.stdout
    (WORK / f"sqlmap-{role}-{number}.log").write_text(result.stdout)
    return len(tested), injectable


def summarise_wapiti(report: Path) -> tuple[int, list[dict[str, object]]]:
    if not report.exists():
        failed = {"category": "wapiti", "level": 4, "method": "", "path": "", "parameter": ""}
        return 0, [{**failed, "info": f"no report: the scan did not finish (see {report.with_suffix('.log').name})"}]
    content = json.loads(report.read_text())
    findings = []
    for section in ("vulnerabilities", "anomalies", "additionals"):
        for category, entries in content.get(section, {}).items():
            for entry in entries:
                findings.append(
                    {
                        "category": category,
                        "level": int(entry.get("level", 0)),
                        "method": entry.get("method", ""),
                        "path": entry.get("path", ""),
                        "parameter": entry.get("parameter", ""),
                        "info": entry.get("info", ""),
                    }
                )
    infos = content.get("infos", {})
    return int(infos.get("crawled_pages_nbr", len(infos.get("crawled_pages", [])))), findings


def scan_login_form(env: dict[str, str], tls: tuple[Path, Path]) -> RoleResult:
    """sqlmap on the one form anyone can post, with the login page's CSRF token."""
    anonymous = RoleResult("anonymous")
    with served(env, *tls) as base:
        target = Target(
            "POST",
            f"{base}/login",
            "email=x%40demo.test&password=x&csrf_token=x",
            f"{base}/login",
            ("email", "password"),
        )
        tested, injectable = run_sqlmap(target, None, "anonymous", 0)
    anonymous.sqlmap_targets, anonymous.sqlmap_parameters = 1, tested
    if injectable:
        anonymous.injectable.append(f"{target.method} {target.url}")
    print(
        f"== anonymous: sqlmap on the login form: {tested} parameters, "
        f"{'INJECTABLE' if injectable else 'not injectable'}",
        flush=True,
    )
    return anonymous


def run_bandit() -> dict[str, object]:
    report = WORK / "bandit.json"
    subprocess.run(  # noqa: S603
        [str(SCAN_BIN / "bandit"), "-r", "portal", "config.py", "-f", "json", "-o", str(report), "-q"],
        check=False,
        cwd=ROOT,
    )
    return json.loads(report.read_text())


def scan_role(
    env: dict[str, str], tls: tuple[Path, Path], role: str, email: str, home: str, args: argparse.Namespace
) -> RoleResult:
    started = time.monotonic()
    result = RoleResult(role)
    with served(env, *tls) as base:
        print(f"\n== {role} ({email}): wapiti, modules {MODULES}", flush=True)
        report, store = run_wapiti(base, role, log_in(base, email, home), home, args)
    result.pages, result.findings = summarise_wapiti(report)
    crawled = crawled_requests(store)
    result.parameters = sum(len(target.parameters) for target in crawled)
    print(f"   attacked {len(crawled)} requests ({result.pages} pages crawled), {result.parameters} parameters")
    targets = sqlmap_targets(crawled)[: args.sqlmap_limit]
    with served(env, *tls) as fresh:
        cookie = log_in(fresh, email, home)
        print(f"== {role}: sqlmap on {len(targets)} parametrised requests", flush=True)
        for number, target in enumerate(targets):
            target = rebased(target, base, fresh)
            tested, injectable = run_sqlmap(target, cookie, role, number)
            result.sqlmap_targets += 1
            result.sqlmap_parameters += tested
            print(
                f"   {target.method:4} {target.url[len(fresh) :][:90]}: {tested} parameters, "
                f"{'INJECTABLE' if injectable else 'not injectable'}",
                flush=True,
            )
            if injectable:
                result.injectable.append(f"{target.method} {target.url}")
    result.seconds = time.monotonic() - started
    return result


def rebased(target: Target, old: str, new: str) -> Target:
    """The crawl's request on the server started afresh for sqlmap (same demo data, another port)."""
    return Target(
        target.method,
        target.url.replace(old, new, 1),
        target.body,
        target.referer.replace(old, new, 1),
        target.parameters,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--max-files", type=int, default=25, help="wapiti's limit of pages per folder")
    parser.add_argument("--max-scan-time", type=int, default=900, help="seconds of wapiti per role (crawl+attack)")
    parser.add_argument("--max-attack-time", type=int, default=120, help="seconds per wapiti module")
    parser.add_argument("--sqlmap-limit", type=int, default=40, help="parametrised requests per role")
    parser.add_argument("--roles", default="dealer,manager")
    args = parser.parse_args()
    for tool in ("wapiti", "sqlmap", "bandit"):
        if not (SCAN_BIN / tool).exists():
            raise SystemExit(f"{tool} is missing: run `make scan-deps` (or `make scan`) first")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    env = scan_env()
    env["DATABASE_URL"] = f"sqlite:///{WORK / 'demo.db'}"
    flask("db", "upgrade", env=env)
    flask("seed-demo", env=env)
    env["DATABASE_URL"] = f"sqlite:///{WORK / 'portal.db'}"
    tls = certificate()
    print("The portal is served over HTTPS with the production configuration, on a fresh copy of the demo data")
    results = [scan_login_form(env, tls)]
    for role, email, home in ROLES:
        if role in args.roles.split(","):
            results.append(scan_role(env, tls, role, email, home, args))
    bandit = run_bandit()
    return report(results, bandit)


def report(results: list[RoleResult], bandit: dict[str, object]) -> int:
    print("\n== Summary")
    failures = []
    for result in results:
        levels = Counter(LEVELS[min(int(finding["level"]), 4)] for finding in result.findings)  # type: ignore[arg-type]
        if result.role != "anonymous":
            print(
                f"wapiti as {result.role}: {result.pages} pages crawled, {result.parameters} parameters, "
                f"findings {dict(levels) or 'none'} ({result.seconds / 60:.1f} min with sqlmap)"
            )
        informational = Counter(str(finding["category"]) for finding in result.findings if not finding["level"])
        for category, count in sorted(informational.items()):
            print(f"  [info] {category}: {count} (listed in {WORK.name}/wapiti-{result.role}.json)")
        for finding in sorted(result.findings, key=lambda item: -int(item["level"])):  # type: ignore[arg-type]
            if not finding["level"]:
                continue
            line = (
                f"  [{LEVELS[min(int(finding['level']), 4)]}] {finding['category']}: {finding['method']} "  # type: ignore[arg-type]
                f"{finding['path']} {finding['parameter']} - {str(finding['info'])[:140]}"
            )
            print(line)
            if int(finding["level"]) >= 2 and str(finding["category"]) not in EXPLAINED:  # type: ignore[arg-type]
                failures.append(f"wapiti ({result.role}) {line.strip()}")
        print(
            f"sqlmap as {result.role}: {result.sqlmap_targets} requests, {result.sqlmap_parameters} parameters, "
            f"{len(result.injectable)} injectable"
        )
        failures += [f"sqlmap ({result.role}): {target} is injectable" for target in result.injectable]
    totals = bandit.get("metrics", {}).get("_totals", {})  # type: ignore[union-attr]
    files = [name for name in bandit.get("metrics", {}) if name != "_totals"]  # type: ignore[union-attr]
    findings = bandit.get("results", [])
    severities = Counter(str(item["issue_severity"]).lower() for item in findings)  # type: ignore[union-attr, index]
    print(f"bandit: {len(files)} files, {totals.get('loc', 0)} lines, findings {dict(severities) or 'none'}")
    lows = Counter(f"{item['test_id']} {item['test_name']}" for item in findings if item["issue_severity"] == "LOW")  # type: ignore[index, union-attr]
    for test, count in sorted(lows.items()):
        print(f"  [low] {test}: {count}")
    for item in findings:  # type: ignore[union-attr]
        if item["issue_severity"] == "LOW":  # type: ignore[index]
            continue
        line = (
            f"  [{item['issue_severity'].lower()}] {item['test_id']} {item['filename']}:{item['line_number']} "  # type: ignore[index]
            f"{item['issue_text']}"
        )  # type: ignore[index]
        print(line)
        if item["test_id"] not in EXPLAINED:  # type: ignore[index]
            failures.append(f"bandit {line.strip()}")
    if failures:
        print("\nNot explained (medium or higher):")
        for failure in failures:
            print("  " + failure)
        return 1
    print("\nNo finding of medium or higher severity.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
