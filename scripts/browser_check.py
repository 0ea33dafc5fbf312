"""The account page of examples/web in headless Chromium, against a real authd and Redis.

    python scripts/browser_check.py --authd URL --page URL --other URL --redis-port N --artifacts DIR

`--page` is an origin authd allows (AUTHD_CORS_ORIGINS, refresh cookie on); `--other` serves the
same page from an origin it does not. Each check drives the page as a user would and then asks
authd, and Redis, what happened. Every wait is for an event (an element, a cookie, a counter), with
a generous bound only so that a broken page fails instead of hanging: a loaded CI machine may take
seconds to render, never a minute.
"""

import argparse
import base64
import hashlib
import http.client
import json
import re
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import authd_http
import pyotp
from joserfc import jws
from joserfc.jwk import ECKey
from checks import check, finish
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

parser = argparse.ArgumentParser()
for name in ("--authd", "--page", "--other", "--artifacts"):
    parser.add_argument(name, required=True)
parser.add_argument("--redis-port", required=True, type=int)
args = parser.parse_args()

WAIT = 60  # seconds; see the module's docstring
PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Version/18.1 Mobile/15E148 Safari/604.1"
LAPTOP_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
HOSTILE_UA = '<img src=x onerror="window.__xss = 1">'


class Device:
    """Another device of the same user: a plain HTTP client with its own address and user agent,
    holding its tokens in bodies as servers and mobile apps do (no Origin, no cookie)."""

    def __init__(self, address, user_agent):
        self.address, self.user_agent = address, user_agent
        self.access = self.refresh = self.session = None

    def request(self, method, path, body=None, bearer=None):
        url = f"http://127.0.0.1:{urlsplit(args.authd).port}"
        reply = authd_http.call(
            url, method, path, body, bearer=bearer, headers={"user-agent": self.user_agent}, timeout=WAIT,
            source_address=self.address)
        return reply.status, reply.json

    def log_in(self, username, password=PASSWORD):
        status, body = self.request("POST", "/login", {"username": username, "password": password})
        assert status == 200, (status, body)
        assert "refreshToken" in body, "a client with no Origin keeps its refresh token in the body"
        self.access, self.refresh = body["accessToken"], body["refreshToken"]
        self.session = self.request("GET", "/me", bearer=self.access)[1]["sessionId"]
        return self

    def access_status(self):
        return self.request("GET", "/me", bearer=self.access)[0]

    def refresh_status(self):
        return self.request("POST", "/token", {"token": self.refresh})[0]


def metric(route, method, status):
    """authd's count of answers for a route, from /metrics."""
    url = urlsplit(args.authd)
    connection = http.client.HTTPConnection("127.0.0.1", url.port, timeout=WAIT)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    total = 0
    for line in text.splitlines():
        if line.startswith("authd_http_requests_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
            if labels == {"route": route, "method": method, "status": str(status)}:
                total += int(float(line.rsplit(" ", 1)[1]))
    return total


def redis_keys(pattern):
    out = subprocess.run(
        ["redis-cli", "-p", str(args.redis_port), "--scan", "--pattern", pattern],
        check=True, capture_output=True, text=True,
    ).stdout
    return sorted(line for line in out.splitlines() if line)


def without_value(cookie):
    """A cookie's attributes for a failure message: never print a token."""
    return {key: value for key, value in cookie.items() if key != "value"}


def refresh_cookies():
    """Every cookie authd set in the browser, attributes included (JavaScript sees none of them)."""
    cookies = browser.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
    return [cookie for cookie in cookies if cookie["name"] == "authd_refresh"]


def wait_for(condition, what):
    return WebDriverWait(browser, WAIT).until(lambda _: condition(), message=f"waited {WAIT}s for {what}")


def element(selector):
    return browser.find_element(By.CSS_SELECTOR, selector)


def visible(selector):
    return WebDriverWait(browser, WAIT).until(seen.visibility_of_element_located((By.CSS_SELECTOR, selector)))


def page_message():
    return visible("#message").text


def fill_sign_in(username, password):
    visible("#sign-in-form")
    for name, value in (("username", username), ("password", password)):
        field = element(f"#sign-in-form [name={name}]")
        field.clear()
        field.send_keys(value)


def session_rows():
    return browser.find_elements(By.CSS_SELECTOR, "#sessions tr")


def redis_cli(*command):
    return subprocess.run(
        ["redis-cli", "-p", str(args.redis_port), *command], check=True, capture_output=True, text=True,
    ).stdout.strip()


def next_code():
    """The authenticator's code (pyotp) of the first step after the last one used: authd accepts
    each step's code once. Waits for the clock's next step when it must, at most 30 s."""
    step = int(time.time()) // 30
    while step <= state.get("step", -1):
        time.sleep(0.2)
        step = int(time.time()) // 30
    state["step"] = step
    return pyotp.TOTP(state["secret"]).at(step * 30)


def sign_in_to_second_step(password):
    fill_sign_in(user, password)
    element("#sign-in").click()
    visible("#second-step-form")
    assert not element("#sign-in-form").is_displayed()


def enter_code(code):
    field = element("#second-step-form [name=code]")
    field.clear()
    field.send_keys(code)
    element("#verify-code").click()


def open_page(url):
    browser.get(url)
    # The page's first act: a silent refresh with the cookie, then one of the two views.
    wait_for(
        lambda: element("#signed-in").is_displayed() or element("#signed-out").is_displayed(),
        "the page to decide whether it is signed in",
    )


options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,900"):
    # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
    options.add_argument(flag)
browser = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
user = "web-" + uuid.uuid4().hex[:8]
state = {}

try:

    @check("a new visitor sees the sign-in form; with no cookie the silent refresh finds no session")
    def _():
        open_page(args.page)
        assert element("#signed-out").is_displayed()
        assert not element("#signed-in").is_displayed()

    @check("sign-up from the page logs in: the page shows the user and this device's session")
    def _():
        fill_sign_in(user, PASSWORD)
        element("#sign-up").click()
        wait_for(lambda: element("#username").text == user, "the signed-in view")
        wait_for(lambda: len(session_rows()) == 1, "one session in the list")
        assert "this device" in session_rows()[0].text
        assert "Chrome on Linux" in session_rows()[0].text, session_rows()[0].text

    @check("the refresh token is an HttpOnly, Secure, SameSite=Strict cookie for /token and /logout only")
    def _():
        cookies = refresh_cookies()
        assert sorted(cookie["path"] for cookie in cookies) == ["/logout", "/token"], list(map(without_value, cookies))
        for cookie in cookies:
            assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict", without_value(cookie)
            assert cookie["domain"] == "localhost", without_value(cookie)
            assert cookie["value"].startswith("eyJ"), "a refresh token"
        state["cookie"] = cookies[0]["value"]
        assert "authd_refresh" not in browser.execute_script("return document.cookie")

    @check("JavaScript cannot read the refresh token: not in document.cookie, storage or the page")
    def _():
        found = browser.execute_script(
            "return [document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage),"
            " document.documentElement.outerHTML].join(' ')"
        )
        assert state["cookie"] not in found
        assert "authd_refresh" not in found

    @check("the access token is renewed silently before it expires, rotating the cookie")
    def _():
        wait_for(lambda: int(element("body").get_attribute("data-refreshes") or 0) >= 1, "a silent renewal")
        rotated = refresh_cookies()
        assert len(rotated) == 2 and rotated[0]["value"] != state["cookie"], "a new refresh token"
        assert rotated[0]["value"] == rotated[1]["value"]
        state["cookie"] = rotated[0]["value"]

    @check("a reload keeps the user signed in: the cookie brings the session back")
    def _():
        open_page(args.page)
        assert element("#signed-in").is_displayed()
        assert element("#username").text == user

    @check("DPoP: the page's key is a non-extractable P-256 key in IndexedDB; the cookie is bound to it")
    def _():
        key = browser.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const open = indexedDB.open("authd-dpop", 1);
            open.onsuccess = () => {
              const get = open.result.transaction("keys").objectStore("keys").get("dpop");
              get.onsuccess = async () => {
                const pair = get.result;
                const { crv, kty, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
                let read = "refused";
                try { await crypto.subtle.exportKey("jwk", pair.privateKey); read = "exported"; } catch {}
                done({ extractable: pair.privateKey.extractable, read, jwk: { crv, kty, x, y } });
              };
            };
        """)
        assert key["extractable"] is False and key["read"] == "refused", key["read"]
        # RFC 7638 computed here, independently of authd.
        canonical = json.dumps(dict(sorted(key["jwk"].items())), separators=(",", ":")).encode()
        thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
        payload = refresh_cookies()[0]["value"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["cnf"] == {"jkt": thumbprint}, "the refresh token in the cookie is bound to the page's key"
        state["jwk"] = key["jwk"]

    @check("DPoP: the cookie copied out of Chromium and replayed with curl is refused, with or without "
           "another key's proof; nothing rotates, and the page keeps working across a reload")
    def _():
        browser.get("about:blank")  # the page's timer would rotate the cookie meanwhile
        cookie = refresh_cookies()[0]["value"]
        origin = args.page.rstrip("/")
        thief = ECKey.generate_key("P-256")
        claims = {"jti": uuid.uuid4().hex, "htm": "POST", "htu": args.authd + "/token", "iat": int(time.time())}
        other = jws.serialize_compact(
            {"typ": "dpop+jwt", "alg": "ES256", "jwk": thief.as_dict(private=False)}, json.dumps(claims), thief,
            algorithms=["ES256"])
        for extra in ([], ["-H", f"DPoP: {other}"]):
            done = subprocess.run(
                ["curl", "-s", "-o", "-", "-w", "\\n%{http_code}", "-X", "POST", args.authd + "/token",
                 "-H", f"Origin: {origin}", "-H", "Content-Type: application/json",
                 "--cookie", f"authd_refresh={cookie}", *extra, "-d", "{}"],
                capture_output=True, text=True, timeout=WAIT, check=True)
            body, status = done.stdout.rsplit("\n", 1)
            assert status == "400" and json.loads(body)["error"] == "invalid_dpop_proof", (status, body)
        assert [c["value"] for c in refresh_cookies()] == [cookie] * 2, "not rotated"
        open_page(args.page)
        assert element("#signed-in").is_displayed()
        wait_for(lambda: refresh_cookies()[0]["value"] != cookie, "the page's own refresh, with its proof")
        open_page(args.page)
        assert element("#signed-in").is_displayed() and element("#username").text == user

    @check("the sessions list shows every device, its address, and which one is this")
    def _():
        state["phone"] = Device("127.0.0.2", PHONE_UA).log_in(user)
        state["laptop"] = Device("127.0.0.3", LAPTOP_UA).log_in(user)
        open_page(args.page)
        wait_for(lambda: len(session_rows()) == 3, "three sessions")
        texts = [row.text for row in session_rows()]
        assert "this device" in texts[0] and sum("this device" in text for text in texts) == 1, texts
        assert any("Safari on iPhone" in text and "127.0.0.2" in text for text in texts), texts
        assert any("Firefox on Windows" in text and "127.0.0.3" in text for text in texts), texts
        screenshot = Path(args.artifacts) / "sessions.png"
        browser.save_screenshot(str(screenshot))
        print(f"        screenshot: {screenshot}")

    @check("a session's user agent is shown as text, never run as HTML")
    def _():
        hostile = Device("127.0.0.4", HOSTILE_UA).log_in(user)
        open_page(args.page)
        wait_for(lambda: len(session_rows()) == 4, "four sessions")
        assert any("<img" in row.text for row in session_rows()), "the markup shown as text"
        assert browser.execute_script("return window.__xss") is None
        assert not browser.find_elements(By.CSS_SELECTOR, "#sessions img")
        assert hostile.request("DELETE", f"/sessions/{hostile.session}", bearer=hostile.access)[0] == 204

    @check("ending another session from the list: its access and refresh tokens are refused at once")
    def _():
        phone = state["phone"]
        open_page(args.page)
        wait_for(lambda: len(session_rows()) == 3, "three sessions")
        row = element(f'#sessions tr[data-session-id="{phone.session}"]')
        row.find_element(By.CSS_SELECTOR, ".end-session").click()
        wait_for(lambda: len(session_rows()) == 2, "the phone's row to go")
        assert "session has ended" in page_message()
        assert phone.access_status() == 401, "the phone's access token"
        assert phone.refresh_status() == 400, "the phone's refresh token"
        assert state["laptop"].access_status() == 200, "the laptop is untouched"
        assert redis_keys(f"authd:session:{{{user}}}:{phone.session}") == []

    @check("a page on a disallowed origin cannot use the cookie: authd answers 403, nothing rotates")
    def _():
        browser.get("about:blank")  # the allowed page's timer would rotate the cookie meanwhile
        state["cookie"] = refresh_cookies()[0]["value"]
        refused = metric("forbidden_origin", "POST", 403)
        open_page(args.other)
        # Its silent refresh sends the (same-site) cookie; authd refuses before reading it.
        wait_for(lambda: metric("forbidden_origin", "POST", 403) > refused, "authd to refuse the other origin")
        assert element("#signed-out").is_displayed()
        assert [cookie["value"] for cookie in refresh_cookies()] == [state["cookie"]] * 2, "not rotated"

    @check("a page on a disallowed origin cannot log in, even with the right password")
    def _():
        preflights = metric("/login", "OPTIONS", 403)
        sessions = redis_keys(f"authd:session:{{{user}}}:*")
        fill_sign_in(user, PASSWORD)
        element("#sign-in").click()
        assert "cannot be reached" in page_message()
        assert metric("/login", "OPTIONS", 403) > preflights, "the preflight refused"
        assert redis_keys(f"authd:session:{{{user}}}:*") == sessions, "no session made"

    @check("the refresh cookie still works from the allowed page after the other origin's attempts")
    def _():
        open_page(args.page)
        assert element("#signed-in").is_displayed()
        state["cookie"] = refresh_cookies()[0]["value"]

    @check("a refresh cookie tossed in beside authd's (as a sibling subdomain would) fails the renewal")
    def _():
        # Cookie tossing (issue 28, item 9): another user's refresh token in a second authd_refresh
        # cookie that /token also gets. A sibling subdomain would plant it with Domain=; on
        # localhost, which has no siblings, Path=/ makes the same pair of cookies. Whichever one
        # Chromium sends first, authd refuses the request; the page never renews into the
        # attacker's session.
        attacker_name = "tosser-" + uuid.uuid4().hex[:8]
        intruder = Device("127.0.0.6", LAPTOP_UA)
        assert intruder.request("POST", "/users", {"username": attacker_name, "password": PASSWORD})[0] == 201
        attacker = intruder.log_in(attacker_name)
        planted = browser.execute_cdp_cmd("Network.setCookie", {
            "name": "authd_refresh", "value": attacker.refresh, "domain": "localhost", "path": "/",
            "secure": True, "httpOnly": True, "sameSite": "Strict"})
        assert planted.get("success", True), planted
        assert len(refresh_cookies()) == 3, list(map(without_value, refresh_cookies()))
        refused = metric("/token", "POST", 400)
        open_page(args.page)
        wait_for(lambda: metric("/token", "POST", 400) > refused, "authd to refuse the two cookies")
        assert element("#signed-out").is_displayed(), "not signed in as anyone"
        assert attacker_name not in element("body").text
        assert attacker.access_status() == 200, "the attacker's session was not touched"
        browser.execute_cdp_cmd("Network.deleteCookies", {"name": "authd_refresh", "domain": "localhost", "path": "/"})
        fill_sign_in(user, PASSWORD)
        element("#sign-in").click()
        wait_for(lambda: element("#username").text == user, "signed in again")

    @check("log out everywhere: every session ends, the cookie is cleared, Redis holds no session")
    def _():
        element("#log-out-everywhere").click()
        assert "every device" in page_message()
        assert element("#signed-out").is_displayed()
        laptop = state["laptop"]
        assert laptop.access_status() == 401 and laptop.refresh_status() == 400
        assert not refresh_cookies(), "the cookie is cleared"
        assert redis_keys(f"authd:session:{{{user}}}:*") == []
        open_page(args.page)
        assert element("#signed-out").is_displayed(), "a reload does not sign in again"

    @check("a password change from the page ends every session; only the new password logs in")
    def _():
        other = Device("127.0.0.5", LAPTOP_UA).log_in(user)
        fill_sign_in(user, PASSWORD)
        element("#sign-in").click()
        visible("#password-form")
        element("#password-form [name=oldPassword]").send_keys(PASSWORD)
        element("#password-form [name=newPassword]").send_keys(NEW_PASSWORD)
        element("#change-password").click()
        assert "Password changed" in page_message()
        assert other.access_status() == 401 and other.refresh_status() == 400
        fill_sign_in(user, PASSWORD)
        element("#sign-in").click()
        wait_for(lambda: element("#message").get_attribute("class") == "error", "the refusal")
        assert "invalid" in page_message().lower(), page_message()
        assert element("#signed-out").is_displayed()
        fill_sign_in(user, NEW_PASSWORD)
        element("#sign-in").click()
        wait_for(lambda: element("#signed-in").is_displayed(), "signing in with the new password")

    @check("two-step sign-in is set up from the page: a QR code of the key, then recovery codes shown once")
    def _():
        visible("#enrol-form")
        assert "Off" in element("#factor-status").text
        element("#enrol-form [name=password]").send_keys(NEW_PASSWORD)
        element("#enrol").click()
        visible("#enrolment")
        state["secret"] = element("#factor-secret").text.replace(" ", "")
        assert re.fullmatch(r"[A-Z2-7]{32}", state["secret"]), "a base32 key of 160 bits"
        qr = element("#factor-qr")
        assert qr.get_attribute("src").startswith("data:image/gif;base64,")
        assert browser.execute_script("return arguments[0].naturalWidth", qr) > 100, "a QR code drawn"
        # Read back as a phone's camera would (zbarimg, Debian's zbar-tools): the otpauth:// URI of
        # this key, with the issuer and the account an authenticator app shows.
        picture = Path(args.artifacts) / "qr.png"
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", qr)
        qr.screenshot(str(picture))
        decoded = subprocess.run(
            ["zbarimg", "--quiet", "--raw", str(picture)], check=True, capture_output=True, text=True).stdout.strip()
        picture.unlink()
        assert decoded.startswith(f"otpauth://totp/authd:{user}?secret={state['secret']}&issuer=authd&"), "the URI"
        screenshot = Path(args.artifacts) / "enrolment.png"
        browser.save_screenshot(str(screenshot))
        print(f"        screenshot: {screenshot}")
        element("#confirm-form [name=code]").send_keys(next_code())
        element("#confirm-factor").click()
        visible("#recovery")
        state["recovery"] = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#recovery-codes li")]
        assert len(state["recovery"]) == 10 and len(set(state["recovery"])) == 10, state["recovery"]
        wait_for(lambda: "On" in element("#factor-status").text, "the factor shown as on")
        assert element("#factor-secret").text == "", "the key is gone from the page"
        assert redis_cli("HGET", f"authd:user:{{{user}}}", "factor") == "totp"

    @check("with the factor, the password alone signs nobody in: a code from the authenticator does")
    def _():
        element("#log-out").click()
        wait_for(lambda: element("#signed-out").is_displayed(), "signed out")
        assert not element("#recovery").is_displayed(), "the recovery codes are gone from the page"
        sessions = redis_keys(f"authd:session:{{{user}}}:*")
        sign_in_to_second_step(NEW_PASSWORD)
        assert redis_keys(f"authd:session:{{{user}}}:*") == sessions, "no session from the password alone"
        assert not refresh_cookies(), "no cookie from the password alone"
        enter_code(next_code())
        wait_for(lambda: element("#username").text == user, "signed in with the code")
        opened = [key for key in redis_keys(f"authd:session:{{{user}}}:*") if key not in sessions]
        assert len(opened) == 1 and redis_cli("HGET", opened[0], "amr") == "pwd,otp", opened
        open_page(args.page)
        assert element("#signed-in").is_displayed(), "a reload keeps the session"

    @check("a recovery code signs in once; the second time it is refused")
    def _():
        element("#log-out").click()
        sign_in_to_second_step(NEW_PASSWORD)
        enter_code(state["recovery"][0])
        wait_for(lambda: element("#username").text == user, "signed in with a recovery code")
        element("#log-out").click()
        sign_in_to_second_step(NEW_PASSWORD)
        enter_code(state["recovery"][0])
        wait_for(lambda: element("#message").get_attribute("class") == "error", "the refusal")
        assert "already used" in page_message(), page_message()
        assert element("#second-step-form").is_displayed()
        enter_code(state["recovery"][1])
        wait_for(lambda: element("#username").text == user, "signed in with another recovery code")
        wait_for(lambda: "8 recovery codes left" in element("#factor-status").text, "the codes counted")

    @check("turning the factor off takes a code, ends the other sessions, and the password alone works again")
    def _():
        other = Device("127.0.0.7", LAPTOP_UA)
        status, body = other.request("POST", "/login", {"username": user, "password": NEW_PASSWORD})
        assert status == 403 and body["error"] == "mfa_required", (status, body)
        status, body = other.request("POST", "/login/mfa", {"mfa_token": body["mfa_token"], "recovery_code": state["recovery"][2]})
        assert status == 200, (status, body)
        other.access = body["accessToken"]
        visible("#remove-factor-form")
        element("#remove-factor-form [name=code]").send_keys(next_code())
        element("#remove-factor").click()
        wait_for(lambda: "Off" in element("#factor-status").text, "the factor shown as off")
        assert "other sessions have ended" in page_message()
        assert other.access_status() == 401, "the other session ended"
        assert redis_keys(f"authd:factor:{{{user}}}") == []
        element("#log-out").click()
        fill_sign_in(user, NEW_PASSWORD)
        element("#sign-in").click()
        wait_for(lambda: element("#username").text == user, "signed in with the password alone")

finally:
    browser.quit()

finish(lambda passed, failed: f"{passed}/{passed + failed} browser checks passed")
