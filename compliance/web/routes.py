"""Every route of the app, area by area: the one list ``create_app`` registers, and the
map of the web layer for whoever looks for a page or an endpoint.

Each area is a package holding ``api.py`` (JSON, in the schema) and ``pages.py``
(HTML for staff); ``common/`` is what they all share, ``site/`` the service's own
routes. The order is the order of registration.
"""

from __future__ import annotations

from typing import Any

from compliance.web.admin import api as admin_api
from compliance.web.admin import pages as admin_pages
from compliance.web.admin import policy_pages, queue_view
from compliance.web.analytes import api as analytes_api
from compliance.web.analytes import pages as analytes_pages
from compliance.web.attendance import api as attendance_api
from compliance.web.attendance import pages as attendance_pages
from compliance.web.caseload import api as caseload_api
from compliance.web.caseload import pages as caseload_pages
from compliance.web.disclosures import api as disclosures_api
from compliance.web.disclosures import pages as disclosures_pages
from compliance.web.drug_tests import api as drug_tests_api
from compliance.web.drug_tests import pages as drug_tests_pages
from compliance.web.followup_plans import api as followup_plans_api
from compliance.web.followup_plans import pages as followup_plans_pages
from compliance.web.groups import api as groups_api
from compliance.web.groups import pages as groups_pages
from compliance.web.imports import api as imports_api
from compliance.web.imports import pages as imports_pages
from compliance.web.links import api as links_api
from compliance.web.links import officer
from compliance.web.links import pages as links_pages
from compliance.web.participants import api as participants_api
from compliance.web.participants import pages as participants_pages
from compliance.web.random_testing import api as random_testing_api
from compliance.web.random_testing import call_in as call_in_routes
from compliance.web.random_testing import pages as random_testing_pages
from compliance.web.referrals import api as referrals_api
from compliance.web.referrals import pages as referrals_pages
from compliance.web.reports import api as reports_api
from compliance.web.reports import pages as reports_pages
from compliance.web.reports import schedules as report_schedules
from compliance.web.signin import api as signin_api
from compliance.web.signin import pages as signin_pages
from compliance.web.signin import set_password
from compliance.web.site import docs_assets, health, home

ROUTES: list[Any] = [
    health.health_check,
    home.home_page,
    *signin_pages.ROUTES,
    *signin_api.ROUTES,
    *participants_api.ROUTES,
    *participants_pages.ROUTES,
    *attendance_api.ROUTES,
    *attendance_pages.ROUTES,
    *drug_tests_pages.ROUTES,
    *referrals_pages.ROUTES,
    *drug_tests_api.ROUTES,
    *referrals_api.ROUTES,
    *imports_api.ROUTES,
    *imports_pages.ROUTES,
    *analytes_api.ROUTES,
    *analytes_pages.ROUTES,
    *admin_api.ROUTES,
    *admin_pages.ROUTES,
    *policy_pages.ROUTES,
    *queue_view.ROUTES,
    *set_password.ROUTES,
    *docs_assets.ROUTES,
    *caseload_api.ROUTES,
    *caseload_pages.ROUTES,
    *reports_api.ROUTES,
    *reports_pages.ROUTES,
    *report_schedules.ROUTES,
    *links_api.ROUTES,
    *links_pages.ROUTES,
    *officer.ROUTES,
    *disclosures_api.ROUTES,
    *disclosures_pages.ROUTES,
    *followup_plans_api.ROUTES,
    *followup_plans_pages.ROUTES,
    *groups_api.ROUTES,
    *groups_pages.ROUTES,
    *random_testing_api.ROUTES,
    *call_in_routes.ROUTES,
    *random_testing_pages.ROUTES,
]
