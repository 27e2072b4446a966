"""Piccolo tables, split by concept. ``ALL_TABLES`` is in dependency order (parents first)."""

from compliance.tables.attendance import Attendance, TreatmentSession
from compliance.tables.audit import AuditEvent
from compliance.tables.changes import ParticipantVersion, RecordVersion
from compliance.tables.disclosure import Disclosure, OutboxMessage, SecureLink
from compliance.tables.followup import FollowUpPlan
from compliance.tables.groups import GroupMember, SessionParticipant, TreatmentGroup
from compliance.tables.invites import StaffInvite
from compliance.tables.people import (
    Consent,
    Mandate,
    MandatePhase,
    Participant,
    PhaseSessionRequirement,
    Recipient,
)
from compliance.tables.programs import Analyte, AnalyteCode, Program, ProgramMembership, StaffUser
from compliance.tables.random_testing import (
    CallInCheck,
    CallInPin,
    CheckInSweep,
    MissedCheckIn,
    MissedCheckInExcuse,
    PhoneLineKey,
    TestingAssignment,
    TestingCall,
    TestingCallExcuse,
    TestingDraw,
    TestingGroup,
)
from compliance.tables.reporting import Report
from compliance.tables.schedules import ReportSchedule, ReportScheduleRun
from compliance.tables.testing import AnalyteResult, DrugTest, ImportBatch
from compliance.tables.uploads import ConsentDocument, StagedUpload
from compliance.tables.violations import Violation

ALL_TABLES = [
    Program,
    StaffUser,
    ProgramMembership,
    StaffInvite,
    Analyte,
    AnalyteCode,
    Participant,
    Mandate,
    MandatePhase,
    PhaseSessionRequirement,
    Recipient,
    Consent,
    ConsentDocument,
    FollowUpPlan,
    TreatmentGroup,
    GroupMember,
    TestingGroup,
    TestingAssignment,
    TestingDraw,
    TestingCall,
    TestingCallExcuse,
    CallInPin,
    CallInCheck,
    MissedCheckIn,
    MissedCheckInExcuse,
    CheckInSweep,
    PhoneLineKey,
    TreatmentSession,
    SessionParticipant,
    ImportBatch,
    StagedUpload,
    Attendance,
    DrugTest,
    AnalyteResult,
    Violation,
    Report,
    ReportSchedule,
    ReportScheduleRun,
    SecureLink,
    Disclosure,
    OutboxMessage,
    AuditEvent,
    RecordVersion,
    ParticipantVersion,
]

__all__ = [t.__name__ for t in ALL_TABLES] + ["ALL_TABLES"]
