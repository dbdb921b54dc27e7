"""Uploading in the browser: drag and drop, the file picker, duplicates, errors per file,
and resuming an interrupted upload through the tus endpoint."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from keepsake.app import Container
from tests.helpers import jpeg_bytes
from tests.web.browser import (
    DROP_FOLDERS,
    BrowserErrors,
    LibraryUser,
    check_accessibility,
    png_bytes,
)

DROP = """files => {
  const dt = new DataTransfer();
  for (const f of files) {
    const bytes = Uint8Array.from(atob(f.data), c => c.charCodeAt(0));
    dt.items.add(new File([bytes], f.name, {type: f.type, lastModified: f.modified}));
  }
  const zone = document.getElementById('drop-zone');
  for (const type of ['dragenter', 'dragover', 'drop']) {
    zone.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt}));
  }
}"""


def _file(
    name: str, data: bytes, kind: str = "image/jpeg", modified: int = 1_700_000_000_000
) -> dict[str, Any]:
    return {
        "name": name,
        "data": base64.b64encode(data).decode(),
        "type": kind,
        "modified": modified,
    }


def _statuses(page: Any) -> dict[str, str]:
    items = page.locator(".upload-item").all()
    return {
        i.locator(".name").inner_text(): i.locator(".upload-status").inner_text() for i in items
    }


def test_dropped_files_upload_with_duplicates_and_errors_reported_per_file(
    page: Any, user: LibraryUser, container: Container
) -> None:
    page.goto("/upload")
    check_accessibility(page, "upload page")
    photo = jpeg_bytes((160, 120), seed=1)
    page.evaluate(
        DROP,
        [
            _file("beach.jpg", photo),
            _file("sunset.png", png_bytes((200, 90, 40)), "image/png"),
            _file("beach copy.jpg", photo),
            _file("notes.jpg", b"this is not a photo at all"),
        ],
    )
    page.wait_for_selector("#upload-summary[data-state='finished']")
    statuses = _statuses(page)
    assert statuses["sunset.png"].startswith("Uploaded.")
    beach = sorted([statuses["beach.jpg"], statuses["beach copy.jpg"]])
    assert beach[0].startswith("Already in your library"), statuses
    assert beach[1].startswith("Uploaded."), statuses
    assert statuses["notes.jpg"].startswith("Not uploaded: "), statuses
    assert len(statuses["notes.jpg"]) > len("Not uploaded: ") + 10  # the server's words
    overall = page.locator("#overall-text").inner_text()
    assert "4 of 4 files finished" in overall
    assert "2 uploaded, 1 already in your library, 1 failed" in overall
    assert page.locator("#overall-progress").get_attribute("value") == "100"
    check_accessibility(page, "upload page with results")

    items, _ = container.media.timeline(user.principal)
    assert sorted(a.original_filename for a in items) in (
        ["beach.jpg", "sunset.png"],
        ["beach copy.jpg", "sunset.png"],
    )
    page.get_by_role("link", name="See them in Photos").click()
    page.wait_for_url(re.compile(r"/$"))
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 2")


def test_the_file_picker_behind_the_drop_zone_uploads(
    page: Any, user: LibraryUser, container: Container
) -> None:
    page.goto("/upload")
    page.locator("#file-input").set_input_files(
        [
            {
                "name": f"pick-{i}.jpg",
                "mimeType": "image/jpeg",
                "buffer": jpeg_bytes((64, 48), seed=10 + i),
            }
            for i in range(3)
        ]
    )
    page.wait_for_selector("#upload-summary[data-state='finished']")
    assert "3 uploaded" in page.locator("#overall-text").inner_text()
    assert len(container.media.timeline(user.principal)[0]) == 3


def test_an_interrupted_upload_resumes_from_the_servers_offset(
    page: Any, user: LibraryUser, container: Container
) -> None:
    data = jpeg_bytes((400, 300), seed=3)
    half = len(data) // 2
    modified = 1_700_000_123_000
    page.goto("/upload")
    # A first attempt sent half the file and then the tab was closed: the server holds the
    # first half, the browser remembers the upload's address.
    page.evaluate(
        """async ([b64, half, modified]) => {
          const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
          const csrf = KS.csrfToken();
          const created = await fetch('/api/uploads', {method: 'POST', headers: {
            'Tus-Resumable': '1.0.0', 'Upload-Length': String(bytes.length),
            'Upload-Metadata': 'filename ' + btoa('resumed.jpg'), 'X-CSRF-Token': csrf}});
          const url = created.headers.get('Location');
          await fetch(url, {method: 'PATCH', body: bytes.slice(0, half), headers: {
            'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'X-CSRF-Token': csrf,
            'Content-Type': 'application/offset+octet-stream'}});
          localStorage.setItem(`ks-tus:resumed.jpg:${bytes.length}:${modified}`, url);
        }""",
        [base64.b64encode(data).decode(), half, modified],
    )
    sent: list[tuple[str, str | None]] = []
    page.on(
        "request",
        lambda r: (
            sent.append((r.method, r.headers.get("upload-offset")))
            if "/api/uploads" in r.url
            else None
        ),
    )
    page.evaluate(DROP, [_file("resumed.jpg", data, modified=modified)])
    page.wait_for_selector("#upload-summary[data-state='finished']")
    assert _statuses(page)["resumed.jpg"].startswith("Uploaded."), _statuses(page)
    assert ("POST", None) not in sent  # no new upload was started
    assert ("PATCH", str(half)) in sent and ("PATCH", "0") not in sent
    [asset] = container.media.timeline(user.principal)[0]
    _, blob = container.media.original(user.principal, asset.id)
    assert b"".join(blob.chunks()) == data
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('ks-tus:'))") == []


def _folder_file(data: bytes, modified: int) -> dict[str, Any]:
    return {"data": base64.b64encode(data).decode(), "type": "image/jpeg", "modified": modified}


def test_a_resumed_upload_belongs_to_the_file_in_its_own_folder(
    context: Any, page: Any, user: LibraryUser, container: Container
) -> None:
    # Two cards' folders, each with an IMG_0001.jpg of one size and one time but other
    # pixels (JPEG readers ignore bytes after the end-of-image marker: pad to one length).
    a, b = jpeg_bytes((400, 300), seed=21), jpeg_bytes((400, 300), seed=22)
    phone, camera = a + b"\0" * (len(b) - len(a)), b + b"\0" * (len(a) - len(b))
    assert len(phone) == len(camera) and phone != camera
    half, modified = len(phone) // 2, 1_700_000_456_000

    # The phone's folder was dropped first; half its file reached the server, then the
    # tab was closed.
    def half_then_cut(route: Any) -> None:
        if route.request.method != "PATCH":
            route.continue_()
        elif route.request.headers.get("upload-offset") == "0":
            route.fulfill(response=route.fetch(post_data=route.request.post_data_buffer[:half]))
        else:
            route.abort()

    page.route(re.compile(r"/api/uploads/"), half_then_cut)
    page.goto("/upload")
    with page.expect_response(lambda r: r.request.method == "PATCH" and r.status == 204):
        page.evaluate(
            DROP_FOLDERS,
            {"tree": {"phone": {"IMG_0001.jpg": _folder_file(phone, modified)}}, "batch": 10},
        )
    page.wait_for_function("() => Object.keys(localStorage).some(k => k.startsWith('ks-tus:'))")
    page.close()

    tab = context.new_page()
    errors = BrowserErrors(tab)
    sent: list[tuple[str, str | None]] = []
    tab.on(
        "request",
        lambda r: (
            sent.append((r.method, r.headers.get("upload-offset")))
            if "/api/uploads" in r.url
            else None
        ),
    )
    tab.goto("/upload")
    # The camera's folder: its file is not the phone's and must not finish the phone's upload.
    tab.evaluate(
        DROP_FOLDERS,
        {"tree": {"camera": {"IMG_0001.jpg": _folder_file(camera, modified)}}, "batch": 10},
    )
    tab.wait_for_selector("#upload-summary[data-state='finished']")
    assert ("POST", None) in sent, sent
    assert ("PATCH", str(half)) not in sent, sent
    # The phone's folder again: its file continues from the half the server holds.
    sent.clear()
    tab.evaluate(
        DROP_FOLDERS,
        {"tree": {"phone": {"IMG_0001.jpg": _folder_file(phone, modified)}}, "batch": 10},
    )
    tab.locator(".upload-item").nth(1).wait_for()
    tab.wait_for_selector("#upload-summary[data-state='finished']")
    statuses = tab.locator(".upload-item .upload-status").all_inner_texts()
    assert tab.locator(".upload-item .name").all_inner_texts() == [
        "camera/IMG_0001.jpg",
        "phone/IMG_0001.jpg",
    ]
    assert all(s.startswith("Uploaded.") for s in statuses), statuses
    assert ("POST", None) not in sent and ("PATCH", str(half)) in sent, sent

    answer = context.request.get("/api/timeline")
    assert answer.ok, answer.text()
    checksums = sorted(item["checksum"] for item in answer.json()["items"])
    assert checksums == sorted(hashlib.sha256(d).hexdigest() for d in (phone, camera))
    assert tab.evaluate("Object.keys(localStorage).filter(k => k.startsWith('ks-tus:'))") == []
    errors.check()
