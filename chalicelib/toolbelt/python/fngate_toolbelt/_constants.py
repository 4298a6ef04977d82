"""Enumerations and fixed names of the Toolbelt (spec runtime-and-toolbelt.md §2)."""

from __future__ import annotations

from enum import StrEnum


class LpServices(StrEnum):
    MSG_HIST = "msgHist"
    AGENT_VEP = "agentVep"
    ACCOUNT_CONFIG_READ_ONLY = "accountConfigReadOnly"
    ACCOUNT_CONFIG_READ_WRITE = "accountConfigReadWrite"
    ASYNC_MESSAGING = "asyncMessaging"
    ASYNC_MESSAGING_EN = "asyncMessagingEnt"
    ENG_HIST_DOMAIN = "engHistDomain"
    RTBF = "rtbf"
    AUDITLOG = "auditLog"
    SMT = "smt"
    PUSHER = "pusher"
    LE_DATA_REPORTING = "leDataReporting"
    MSG_EWT_API = "msgEwtAPI"
    MSDKGW = "msdkgw"


class ConversationContentTypes(StrEnum):
    INFO = "info"
    SDES = "sdes"
    UNAUTH_SDES = "unAuthSdes"
    CAMPAIGN = "campaign"
    MESSAGE_RECORDS = "messageRecords"
    AGENT_PARTICIPANTS = "agentParticipants"
    AGENT_PARTICIPANTS_ACTIVE = "agentParticipantsActive"
    CONSUMER_PARTICIPANTS = "consumerParticipants"
    TRANSFERS = "transfers"
    INTERACTIONS = "interactions"
    MESSAGE_SCORES = "messageScores"
    MESSAGE_STATUSES = "messageStatuses"
    SKILL_CHANGES = "skillChanges"
    CONVERSATION_SURVEYS = "conversationSurveys"
    AGENT_PARTICIPANTS_LEAVE = "agentParticipantsLeave"
    COBROWSE_SESSIONS = "coBrowseSessions"
    SUMMARY = "summary"
    MONITORING = "monitoring"
    DIALOGS = "dialogs"
    RESPONSE_TIME = "responseTime"
    INTENTS = "intents"
    UNIQUE_INTENTS = "uniqueIntents"


class SDETypes(StrEnum):
    CART = "cart"
    TRANSACTION = "purchase"
    VIEWED_PRODUCT = "prodView"
    CUSTOMER_INFO = "ctmrinfo"
    MARKETING_SOURCE = "mrktInfo"
    PERSONAL_INFO = "personal"
    LEAD = "lead"
    SERVICE_ACTIVITY = "service"
    VISITOR_ERROR = "error"
    SEARCHED_CONTENT = "searchInfo"
    ORDER_ID = "orderId"


class ErrorStrategy(StrEnum):
    EXIT_ON_ERROR = "ExitOnError"
    CONTINUE_ON_ERROR = "ContinueOnError"


DEFAULT_APP_KEY_SECRET = "lp-faas-default-app-key"
ORCHESTRATOR_APP_KEY_SECRET = "lp-faas-orchestrator-app-key"
SYSTEM_SECRET_PREFIX = "LIVEPERSON_DEFAULT_"
MAX_SECRET_SIZE = 16384
