"""A new client in one guided flow (issue 15, point 6): enrolment, the mandate (phase 1
started, the officer made a recipient), the consent from a template, then the first
report or link, offered only to recipients a valid consent covers.

Forms are filled the way a browser fills them: the page's own form is read back (its
pre-filled values, ticked boxes and selected options) and posted as it stands."""

from __future__ import annotations

import json
from datetime import date, timedelta
from html.parser import HTMLParser

import httpx
import pytest

from compliance.tables import AuditEvent, Consent, Mandate, MandatePhase, Participant, Recipient
from tests.support.staff import csrf_token, demo_up_to_now, post_form, signed_in_demo

pytestmark = pytest.mark.db

TODAY = date.today()
ADMITTED = TODAY - timedelta(days=21)
OFFICER = {
    "contact_name": "Jordan Pike",
    "contact_email": "jpike@probation.example",
    "contact_phone": "(217) 555-0190",
}
COURT_MANDATE = {
    "source": "court",
    "case_number": "2026-CF-2200",
    "court_name": "Sangamon County Drug Treatment Court",
    "referring_agency": "Sangamon County Adult Probation",
    "ends_on": (TODAY + timedelta(days=300)).isoformat(),
    **OFFICER,
}


class FormReader(HTMLParser):
    """The controls of a page's forms as a browser sees them: what each form would post,
    which controls have no label, and which required ones have no visible mark."""

    def __init__(self, action: str | None = None) -> None:
        super().__init__()
        self.action = action
        self.in_form = False
        self.pairs: list[tuple[str, str]] = []
        self.controls: list[dict[str, str]] = []  # every visible control, any form
        self.labels: dict[str, str] = {}  # for= id -> the label's markup
        self._label: list[str] | None = None
        self._label_for = ""
        self._wrapped = 0
        self._select: dict[str, str] | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: dict[str, str] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if self._label is not None:
            self._label.append(self.get_starttag_text() or "")
        if tag == "form":
            self.in_form = self.action is None or a.get("action") == self.action
        elif tag == "label":
            self._label, self._label_for = [], a.get("for", "")
            self._wrapped += 1
        elif tag == "input":
            kind = a.get("type", "text")
            if kind not in ("hidden", "submit", "button"):
                self.controls.append({**a, "tag": tag, "wrapped": str(self._wrapped)})
            if not self.in_form or not a.get("name") or kind in ("submit", "button", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.pairs.append((a["name"], a.get("value", "on")))
            else:
                self.pairs.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self.controls.append({**a, "tag": tag, "wrapped": str(self._wrapped)})
            self._select, self._options = a, []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self.controls.append({**a, "tag": tag, "wrapped": str(self._wrapped)})
            self._textarea, self._text = a, ""

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self._label.append(data)
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._label is not None:
            if self._label_for:
                self.labels[self._label_for] = "".join(self._label)
            self._label = None
            self._wrapped -= 1
        elif tag == "select" and self._select is not None:
            chosen = [v for v, sel in self._options if sel] or [v for v, _ in self._options[:1]]
            if self.in_form and self._select.get("name") and chosen:
                self.pairs.append((self._select["name"], chosen[0]))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            if self.in_form and self._textarea.get("name"):
                self.pairs.append((self._textarea["name"], self._text))
            self._textarea = None
        elif tag == "form":
            self.in_form = False

    def unlabelled(self) -> list[str]:
        return [
            c.get("name") or c.get("id", "?")
            for c in self.controls
            if c["wrapped"] == "0" and c.get("id") not in self.labels and not c.get("aria-label")
        ]

    def unmarked(self) -> list[str]:
        """Required controls whose label shows no star."""
        return [
            c.get("name", "?")
            for c in self.controls
            if "required" in c and 'class="req"' not in self.labels.get(c.get("id", ""), "")
        ]


def read_form(html: str, action: str) -> FormReader:
    reader = FormReader(action)
    reader.feed(html)
    return reader


def as_posted(reader: FormReader, **changes: str | list[str]) -> dict[str, str | list[str]]:
    """The form's values, lists for repeated names, with ``changes`` typed over them."""
    out: dict[str, str | list[str]] = {}
    for name, value in reader.pairs:
        if name in out:
            current = out[name]
            out[name] = [*(current if isinstance(current, list) else [current]), value]
        else:
            out[name] = value
    for name in ("information_categories", "purposes"):
        if name in out and isinstance(out[name], str):
            out[name] = [out[name]]  # type: ignore[list-item]
    out.update(changes)
    return out


def options(html: str, select_id: str) -> list[str]:
    """The option texts of one select."""

    class Options(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.inside, self.option, self.texts = False, False, []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "select":
                self.inside = dict(attrs).get("id") == select_id
            self.option = self.inside and tag == "option"
            if self.option:
                self.texts.append("")

        def handle_data(self, data: str) -> None:
            if self.option:
                self.texts[-1] += data

        def handle_endtag(self, tag: str) -> None:
            if tag in ("option", "select"):
                self.option = False

    parser = Options()
    parser.feed(html)
    return [t.strip() for t in parser.texts]


async def submit(client: httpx.AsyncClient, url: str, data: dict) -> httpx.Response:
    return await client.post(url, data={**data, "_csrf_token": await csrf_token(client)})


def is_page(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")


async def enrol(client: httpx.AsyncClient, client_id: str = "RB-2001") -> tuple[int, str]:
    """Step 1 through its page; returns the participant and where the answer leads."""
    page = await client.get("/participants/new")
    form = read_form(page.text, "/participants/new")
    done = await submit(
        client,
        "/participants/new",
        as_posted(
            form,
            client_id=client_id,
            first_name="Nia",
            last_name="Stone",
            admitted_on=ADMITTED.isoformat(),
        ),
    )
    assert done.status_code == 303, done.text[:2000]
    pid = (await Participant.select().where(Participant.client_id == client_id).first())["id"]
    return pid, done.headers["location"]


async def mandate_step(
    client: httpx.AsyncClient, pid: int, **typed: str
) -> tuple[httpx.Response, FormReader]:
    page = await client.get(f"/participants/{pid}/mandates/new?flow=new")
    form = read_form(page.text, f"/participants/{pid}/mandates")
    done = await submit(client, f"/participants/{pid}/mandates", as_posted(form, **typed))
    return done, form


@pytest.fixture
async def demo(client: httpx.AsyncClient) -> dict:
    return await signed_in_demo(client, "flow@example.org", full_name="Casey Morgan")


async def test_each_step_says_where_it_is_with_every_input_labelled(client, demo) -> None:
    page = await client.get("/participants/new")
    is_page(page, 200)
    assert "Step 1 of 4" in page.text and "Next: the mandate" in page.text
    pid, location = await enrol(client)
    assert location == f"/participants/{pid}/mandates/new?flow=new"
    mandate = await client.get(location)
    is_page(mandate, 200)
    assert "Step 2 of 4" in mandate.text and "Next: the consent" in mandate.text
    form = read_form(mandate.text, f"/participants/{pid}/mandates")
    fields = dict(form.pairs)
    # The mandate starts on the admission day; phase 1 holds a typical IOP week.
    assert fields["starts_on"] == ADMITTED.isoformat()
    assert (fields["phase0_name"], fields["phase0_hours"], fields["phase0_tests"]) == (
        "Phase 1",
        "9",
        "2",
    )
    assert fields["add_contact_as_recipient"] == "true"
    assert f'href="/participants/{pid}/consents/new?flow=new"' in mandate.text  # skip
    for url in (
        "/participants/new",
        location,
        f"/participants/{pid}/consents/new?flow=new&template=court",
        "/recipients",
    ):
        shown = await client.get(url)
        is_page(shown, 200)
        reader = FormReader()
        reader.feed(shown.text)
        assert reader.controls, url
        assert reader.unlabelled() == [], url
        assert reader.unmarked() == [], url
    consent = await client.get(f"/participants/{pid}/consents/new?flow=new&template=court")
    assert "Step 3 of 4" in consent.text and "Next: the first report" in consent.text
    assert "§2.35" not in consent.text and "(cannot be combined)" not in consent.text
    step4 = await client.get(f"/participants/{pid}/first-report")
    assert "Step 4 of 4" in step4.text and f'href="/participants/{pid}">Finish' in step4.text


async def test_each_step_refuses_in_the_page_and_stores_nothing(client, demo) -> None:
    bad = await submit(
        client,
        "/participants/new",
        as_posted(
            read_form((await client.get("/participants/new")).text, "/participants/new"),
            client_id="RB-2002",
            first_name="Nia",
            last_name="Stone",
            admitted_on="13/45/2026",
        ),
    )
    is_page(bad, 422)
    assert "Nothing was saved" in bad.text and 'aria-invalid="true"' in bad.text
    assert "Admitted on &#39;13/45/2026&#39; is not a date" in bad.text
    assert 'value="Stone"' in bad.text and "Step 1 of 4" in bad.text
    assert await Participant.count().where(Participant.client_id == "RB-2002") == 0

    pid, _ = await enrol(client)
    mandates, recipients = await Mandate.count(), await Recipient.count()
    refused, _ = await mandate_step(
        client,
        pid,
        source="court",
        court_name="Drug Court",
        contact_name="Jordan Pike",
        phase0_hours="",
        phase1_name="Phase 2",
        phase1_hours="abc",
    )
    is_page(refused, 422)
    text = refused.text
    assert "Step 2 of 4" in text and 'name="flow" value="new"' in text
    assert "Case number is required" in text
    assert "E-mail: give an e-mail address or a phone number to add them as a recipient" in text
    # Each phase's reason stands beside its own input, the later phases shown open.
    assert 'id="phase0_hours-error">Hours a week is required.' in text
    assert 'id="phase1_hours-error">Hours a week &#39;abc&#39; is not a number of hours.' in text
    assert '<details class="later-phases" open>' in text
    assert 'value="Jordan Pike"' in text and "Add Jordan Pike as a recipient" in text
    assert (await Mandate.count(), await Recipient.count()) == (mandates, recipients)

    done, _ = await mandate_step(client, pid, **{**COURT_MANDATE, "case_number": "CR-1"})
    assert done.status_code == 303
    consent_url = done.headers["location"]
    form = read_form((await client.get(consent_url)).text, f"/participants/{pid}/consents")
    refused = await submit(
        client,
        f"/participants/{pid}/consents",
        as_posted(form, revocation_instructions="", information_categories=[]),
    )
    is_page(refused, 422)
    assert "Step 3 of 4" in refused.text and "Nothing was saved" in refused.text
    assert "Taking the consent back is required" in refused.text
    assert "What may be shared: choose at least one" in refused.text
    # What the template filled in is still there.
    assert "the final disposition of my case (CR-1)" in refused.text
    assert await Consent.count().where(Consent.participant == pid) == 0


async def test_phase_one_starts_with_the_mandate(client, demo) -> None:
    pid, _ = await enrol(client)
    done, _ = await mandate_step(
        client,
        pid,
        **COURT_MANDATE,
        phase0_started_on="",
        phase1_name="Phase 2",
        phase1_hours="6",
        phase1_tests="1",
        phase1_group="2",
    )
    assert done.status_code == 303
    mandate = await Mandate.select().where(Mandate.participant == pid).first()
    phases = (
        await MandatePhase.select()
        .where(MandatePhase.mandate == mandate["id"])
        .order_by(MandatePhase.sequence)
    )
    assert mandate["starts_on"] == ADMITTED
    assert [(p["name"], p["started_on"]) for p in phases] == [
        ("Phase 1", ADMITTED),
        ("Phase 2", None),
    ]
    # The engine judges against it: the client is in phase 1 from the first week.
    judged = await client.get(f"/api/participants/{pid}/compliance")
    assert judged.json()["current_phase"] == "Phase 1"
    # Given explicitly, the date is kept; before the mandate starts, it is refused.
    later = (ADMITTED + timedelta(days=7)).isoformat()
    headers = {"x-csrftoken": await csrf_token(client)}
    body = {
        "source": "eap",
        "starts_on": ADMITTED.isoformat(),
        "phases": [{"name": "IOP", "required_hours_per_week": "9", "required_tests_per_week": 1}],
    }
    api = await client.post(f"/api/participants/{pid}/mandates", json=body, headers=headers)
    assert api.status_code == 201 and api.json()["phases"][0]["started_on"] == body["starts_on"]
    body["phases"][0]["started_on"] = later
    api = await client.post(f"/api/participants/{pid}/mandates", json=body, headers=headers)
    assert api.json()["phases"][0]["started_on"] == later
    body["phases"][0]["started_on"] = (ADMITTED - timedelta(days=1)).isoformat()
    early = await client.post(f"/api/participants/{pid}/mandates", json=body, headers=headers)
    assert early.status_code == 422
    assert early.json()["errors"] == [
        {"field": "phases[0].started_on", "reason": "is before the mandate starts"}
    ]


async def test_the_officer_becomes_a_recipient_once(client, demo) -> None:
    pid, _ = await enrol(client)
    before = await Recipient.count()
    done, _ = await mandate_step(client, pid, **COURT_MANDATE)
    assert done.status_code == 303
    assert done.headers["location"] == f"/participants/{pid}/consents/new?flow=new&template=court"
    officer = await Recipient.select().where(Recipient.name == "Jordan Pike").first()
    assert await Recipient.count() == before + 1
    assert {k: officer[k] for k in ("kind", "organisation", "email", "phone", "program")} == {
        "kind": "probation_officer",
        "organisation": "Sangamon County Adult Probation",
        "email": "jpike@probation.example",
        "phone": "(217) 555-0190",
        "program": demo["program"]["id"],
    }
    # The consent step names them, without choosing.
    consent = await client.get(done.headers["location"])
    assert f'<option value="{officer["id"]}" selected>Jordan Pike' in consent.text
    # A second mandate naming the same officer (typed a little differently) reuses them.
    again, _ = await mandate_step(
        client,
        pid,
        **{**COURT_MANDATE, "contact_email": "JPike@Probation.example ", "contact_phone": ""},
    )
    assert again.status_code == 303
    assert await Recipient.count() == before + 1
    events = await AuditEvent.select(AuditEvent.detail).where(AuditEvent.action == "mandate.create")
    details = [
        json.loads(e["detail"]) if isinstance(e["detail"], str) else e["detail"] for e in events
    ]
    assert [(d["recipient"], d["recipient_added"]) for d in details] == [
        (officer["id"], True),
        (officer["id"], False),
    ]
    # The demo's officer, named on a mandate, is the demo's recipient: no second one.
    dana, _ = await mandate_step(
        client,
        pid,
        **{
            **COURT_MANDATE,
            "contact_name": "Dana Whitfield",
            "contact_email": "dwhitfield@probation.example",
        },
    )
    assert dana.status_code == 303
    assert await Recipient.count().where(Recipient.name == "Dana Whitfield") == 1
    # Unticked, nobody is added.
    other, _ = await mandate_step(
        client, pid, **{**COURT_MANDATE, "contact_name": "Sam Other"}, add_contact_as_recipient=""
    )
    assert other.status_code == 303
    assert await Recipient.count() == before + 1


@pytest.mark.parametrize(
    ("source", "template", "categories", "purposes", "criminal_justice", "kinds"),
    [
        (
            "court",
            "court",
            [
                "attendance",
                "compliance_status",
                "discharge_status",
                "drug_tests",
                "treatment_progress",
            ],
            ["court_supervision"],
            True,
            ["Court progress report"],
        ),
        (
            "eap",
            "eap",
            ["attendance", "compliance_status", "fitness_to_return"],
            ["employment"],
            False,
            ["EAP status report"],
        ),
        (
            "dot_sap",
            "dot_sap",
            ["attendance", "compliance_status", "drug_tests", "fitness_to_return"],
            ["dot_return_to_duty"],
            False,
            ["EAP status report", "DOT follow-up testing report"],
        ),
    ],
)
async def test_each_consent_template_prefills_and_validates(
    client, demo, source, template, categories, purposes, criminal_justice, kinds
) -> None:
    pid, _ = await enrol(client)
    done, _ = await mandate_step(client, pid, **{**COURT_MANDATE, "source": source})
    url = done.headers["location"]
    assert url == f"/participants/{pid}/consents/new?flow=new&template={template}"
    page = await client.get(url)
    is_page(page, 200)
    form = read_form(page.text, f"/participants/{pid}/consents")
    values = as_posted(form)
    assert sorted(values["information_categories"]) == categories
    assert values["purposes"] == purposes
    assert ("is_criminal_justice" in values) is criminal_justice
    # Every §2.31 element filled in, in plain words (the client's own voice).
    assert values["disclosing_party"] == "Riverbend Recovery IOP"
    assert values["signed_by_name"] == "Nia Stone" and values["signed_on"]
    assert str(values["information_description"]).startswith(("My ", "Whether I"))
    assert "revoke" in str(values["revocation_instructions"])
    assert values["expires_on"] == COURT_MANDATE["ends_on"]
    if criminal_justice:
        assert values["revocable_after"] == COURT_MANDATE["ends_on"]
        assert "cannot take it back" in page.text
    else:
        assert values["revocable_after"] == values["irrevocable_until_event"] == ""
        assert "may take it back at any time" in page.text
    # Validated as any consent: an irrevocable date on an ordinary consent is refused...
    wrong = (
        {"is_criminal_justice": ""}
        if criminal_justice
        else {"revocable_after": COURT_MANDATE["ends_on"]}
    )
    refused = await submit(client, f"/participants/{pid}/consents", {**values, **wrong})
    is_page(refused, 422)
    assert "only a criminal-justice consent" in refused.text
    assert await Consent.count().where(Consent.participant == pid) == 0
    # ...and the form as the template filled it is a valid consent.
    saved = await submit(client, f"/participants/{pid}/consents", values)
    assert saved.status_code == 303, saved.text[:2000]
    assert saved.headers["location"] == f"/participants/{pid}/first-report"
    consent = await Consent.select().where(Consent.participant == pid).first()
    officer = await Recipient.select().where(Recipient.name == "Jordan Pike").first()
    assert consent["recipient"] == officer["id"]
    assert sorted(consent["information_categories"]) == categories
    assert consent["purposes"] == purposes
    assert consent["is_criminal_justice"] is criminal_justice
    # Step 4 offers the report that consent allows, to that recipient only.
    step4 = await client.get(saved.headers["location"])
    assert options(step4.text, "report-recipient") == [
        "Jordan Pike (Sangamon County Adult Probation)"
    ]
    assert options(step4.text, "report-kind") == kinds
    reader = FormReader()
    reader.feed(step4.text)
    assert reader.controls and reader.unlabelled() == [] and reader.unmarked() == []


@pytest.fixture
async def demo_now(client: httpx.AsyncClient) -> dict:
    """The demo laid out up to now: its EAP client's twelve-week consent is still valid
    today (at ``DEMO_NOW`` it ran out on 21 Dec 2026)."""
    return await demo_up_to_now(client)


async def test_report_and_link_forms_list_only_recipients_a_valid_consent_covers(
    client, demo_now
) -> None:
    demo = demo_now
    added = await post_form(
        client,
        "/recipients",
        {
            "program_id": str(demo["program"]["id"]),
            "kind": "probation_officer",
            "name": "Pat Nobody",
            "organisation": "Elsewhere County",
            "email": "pat@elsewhere.example",
        },
    )
    assert added.status_code == 303
    people = demo["people"]
    expected = {
        "RB-1001": (
            ["Dana Whitfield (Sangamon County Adult Probation)"],
            ["Court progress report"],
        ),
        "RB-1002": (["Renee Cho (Keystone EAP Services)"], ["EAP status report"]),
        "RB-1003": (
            ["Ellen Marsh (Marsh SAP Services)"],
            ["EAP status report", "DOT follow-up testing report"],
        ),
    }
    for client_id, (recipients, kinds) in expected.items():
        page = await client.get(f"/participants/{people[client_id]}")
        is_page(page, 200)
        assert options(page.text, "report-recipient") == recipients, client_id
        assert options(page.text, "link-recipient") == recipients, client_id
        assert options(page.text, "report-kind") == kinds, client_id
    # The SAP's own report is the one chosen.
    sap = await client.get(f"/participants/{people['RB-1003']}")
    assert '<option value="sap_followup" selected>' in sap.text
    # Once the court client's consent is revoked (the case is closed), nobody is offered,
    # and the page says why.
    consent = await Consent.select().where(Consent.participant == people["RB-1001"]).first()
    revoked = await post_form(
        client,
        f"/consents/{consent['id']}/revoke",
        {"note": "case closed", "irrevocable_event_has_occurred": "true"},
    )
    assert revoked.status_code == 303
    page = await client.get(f"/participants/{people['RB-1001']}")
    assert 'id="report-recipient"' not in page.text and 'id="link-recipient"' not in page.text
    assert "No recipient has a valid consent from Marcus Hale" in page.text
    assert "Dana Whitfield (Sangamon County Adult Probation): the consent signed" in page.text
    assert "was revoked on" in page.text
    # The gate stays the authority: a report posted anyway is refused, nothing signed.
    refused = await post_form(
        client,
        f"/participants/{people['RB-1001']}/reports",
        {"kind": "court_progress", "recipient_id": str(demo["recipients"]["Dana Whitfield"])},
    )
    is_page(refused, 422)
    assert "was revoked" in refused.text


async def test_a_recipient_added_from_the_consent_step_comes_back_chosen(client, demo) -> None:
    pid, _ = await enrol(client)
    consent_url = f"/participants/{pid}/consents/new?flow=new"
    page = await client.get(consent_url)
    assert 'href="/recipients?next=%2Fparticipants%2F' in page.text
    recipients = await client.get("/recipients", params={"next": consent_url})
    assert f'name="next" value="{consent_url}"' in recipients.text.replace("&amp;", "&")
    made = await post_form(
        client,
        "/recipients",
        {
            "program_id": str(demo["program"]["id"]),
            "kind": "employer_contact",
            "name": "Lee Boss",
            "email": "lee@employer.example",
            "next": consent_url,
        },
    )
    rid = (await Recipient.select().where(Recipient.name == "Lee Boss").first())["id"]
    assert made.status_code == 303
    assert made.headers["location"] == f"{consent_url}&recipient_id={rid}"
    back = await client.get(made.headers["location"])
    assert f'<option value="{rid}" selected>Lee Boss' in back.text
    # Another site as the way back is ignored.
    for n, target in enumerate(["//evil.example/x", "/\t/evil.example", "https://evil.example"]):
        elsewhere = await post_form(
            client,
            "/recipients",
            {
                "program_id": str(demo["program"]["id"]),
                "kind": "other",
                "name": f"Kim Away {n}",
                "email": f"kim{n}@x.example",
                "next": target,
            },
        )
        assert elsewhere.headers["location"] == "/recipients", target
