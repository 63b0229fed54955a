"""Notification templates: subject and body per kind, recipient and language.

Written in the `chatkit.automation.Template` syntax. The variables filled in:

- ``ticket.id``, ``ticket.subject``, ``ticket.status`` and ``ticket.priority``
  (the values), ``ticket.status_label`` and ``ticket.priority_label`` (in
  the recipient's language), ``ticket.due_at`` (``2025-03-01 17:00 UTC``,
  missing when there is none), ``ticket.team``, ``ticket.changes`` (for
  updates: what changed, in words, comma separated);
- ``contact.name``, ``contact.first_name``, ``contact.email``;
- ``agent.name``, ``agent.first_name``, ``agent.email`` (the ticket's owner);
- ``conversation.id``, ``conversation.subject``, ``conversation.channel``;
- ``company.name`` (`NotificationSettings.company_name`).

In the ``html`` body every value is HTML-escaped; only ``{{ name | raw }}``
inserts one unescaped. The subject and the plain-text body are not escaped.

A variable without a fallback that has no value makes the notification
fail (logged, recorded, ``notification.failed``); it is never sent with a
gap or a raw ``{{``. The built-in templates give every optional variable a
fallback.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..automation.templates import Template
from .base import NotificationKind, RecipientKind

__all__ = ["DEFAULT_TEMPLATES", "NotificationTemplate", "choose_template", "label"]


class NotificationTemplate(BaseModel):
    """Subject and bodies for one kind of notification, recipient and language.

    Attributes:
        kind: ``ticket.created``, ``ticket.updated`` or ``ticket.resolved``.
        recipient: ``customer`` or ``agent``.
        language: BCP 47 tag (``"en"``, ``"pt-BR"``); a recipient writing
            ``pt-BR`` gets ``pt-BR``, else ``pt``, else the default language.
        subject: One line; line breaks in the result become spaces.
        text: The plain-text body.
        html: An HTML body sent alongside. Every value is HTML-escaped
            (`Template.render_html`): a contact named ``<b>Ann</b>`` is
            shown as that text. ``{{ name | raw }}`` inserts a value you
            trust to be markup unescaped. The subject and ``text`` are
            plain text and never escaped.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: NotificationKind
    recipient: RecipientKind
    language: str = Field(min_length=2, max_length=35)
    subject: Template
    text: Template
    html: Template | None = None

    @field_validator("language")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    @property
    def key(self) -> tuple[str, str, str]:
        """``(kind, recipient, language)``."""
        return (self.kind.value, self.recipient.value, self.language)


def _t(kind: str, recipient: str, language: str, subject: str, text: str) -> NotificationTemplate:
    return NotificationTemplate.model_validate(
        {
            "kind": kind,
            "recipient": recipient,
            "language": language,
            "subject": subject,
            "text": text,
        }
    )


_C, _U, _R = "ticket.created", "ticket.updated", "ticket.resolved"

DEFAULT_TEMPLATES: tuple[NotificationTemplate, ...] = (
    # -- English -----------------------------------------------------------------
    _t(
        _C,
        "customer",
        "en",
        "We received your request: {{ ticket.subject }}",
        "Hello {{ contact.first_name | there }},\n\n"
        'Thank you for contacting us. We opened a ticket for your request "{{ ticket.subject }}" '
        "and will get back to you as soon as we can.\n\n"
        "Ticket reference: {{ ticket.id }}\n\n"
        '-- {{ company.name | "The support team" }}\n',
    ),
    _t(
        _U,
        "customer",
        "en",
        "Update on your request: {{ ticket.subject }}",
        "Hello {{ contact.first_name | there }},\n\n"
        'There is news on your request "{{ ticket.subject }}".\n\n'
        "Status: {{ ticket.status_label }}\n"
        'Due: {{ ticket.due_at | "not set" }}\n'
        "Ticket reference: {{ ticket.id }}\n\n"
        '-- {{ company.name | "The support team" }}\n',
    ),
    _t(
        _R,
        "customer",
        "en",
        "Your request is resolved: {{ ticket.subject }}",
        "Hello {{ contact.first_name | there }},\n\n"
        'We have resolved your request "{{ ticket.subject }}". If anything is still not right, '
        "just contact us again and we will pick it up.\n\n"
        "Ticket reference: {{ ticket.id }}\n\n"
        '-- {{ company.name | "The support team" }}\n',
    ),
    _t(
        _C,
        "agent",
        "en",
        "New ticket for you: {{ ticket.subject }}",
        "Hello {{ agent.first_name | there }},\n\n"
        "A ticket was opened and you own it.\n\n"
        "Subject: {{ ticket.subject }}\n"
        'Customer: {{ contact.name | "(no name)" }}\n'
        "Priority: {{ ticket.priority_label }}\n"
        'Due: {{ ticket.due_at | "not set" }}\n'
        "Ticket: {{ ticket.id }}\n",
    ),
    _t(
        _U,
        "agent",
        "en",
        "Ticket updated: {{ ticket.subject }}",
        "Hello {{ agent.first_name | there }},\n\n"
        'A ticket you own changed: {{ ticket.changes | "details" }}.\n\n'
        "Subject: {{ ticket.subject }}\n"
        "Status: {{ ticket.status_label }}\n"
        "Priority: {{ ticket.priority_label }}\n"
        'Due: {{ ticket.due_at | "not set" }}\n'
        "Ticket: {{ ticket.id }}\n",
    ),
    _t(
        _R,
        "agent",
        "en",
        "Ticket resolved: {{ ticket.subject }}",
        "Hello {{ agent.first_name | there }},\n\n"
        'The ticket "{{ ticket.subject }}" is now {{ ticket.status_label }}.\n\n'
        "Ticket: {{ ticket.id }}\n",
    ),
    # -- Korean ------------------------------------------------------------------
    _t(
        _C,
        "customer",
        "ko",
        "문의가 접수되었습니다: {{ ticket.subject }}",
        "{{ contact.name | 고객 }}님, 안녕하세요.\n\n"
        '문의해 주셔서 감사합니다. "{{ ticket.subject }}" 문의가 접수되었으며 '
        "최대한 빨리 답변드리겠습니다.\n\n"
        "접수 번호: {{ ticket.id }}\n\n"
        "-- {{ company.name | 고객지원팀 }}\n",
    ),
    _t(
        _U,
        "customer",
        "ko",
        "문의 진행 상황 안내: {{ ticket.subject }}",
        "{{ contact.name | 고객 }}님, 안녕하세요.\n\n"
        '문의하신 "{{ ticket.subject }}" 건의 진행 상황을 알려 드립니다.\n\n'
        "상태: {{ ticket.status_label }}\n"
        "기한: {{ ticket.due_at | 미정 }}\n"
        "접수 번호: {{ ticket.id }}\n\n"
        "-- {{ company.name | 고객지원팀 }}\n",
    ),
    _t(
        _R,
        "customer",
        "ko",
        "문의가 해결되었습니다: {{ ticket.subject }}",
        "{{ contact.name | 고객 }}님, 안녕하세요.\n\n"
        '문의하신 "{{ ticket.subject }}" 건이 해결되었습니다. 아직 불편한 점이 있으시면 '
        "언제든지 다시 연락해 주세요.\n\n"
        "접수 번호: {{ ticket.id }}\n\n"
        "-- {{ company.name | 고객지원팀 }}\n",
    ),
    _t(
        _C,
        "agent",
        "ko",
        "새 티켓이 배정되었습니다: {{ ticket.subject }}",
        "{{ agent.name | 담당자 }}님, 안녕하세요.\n\n"
        "새 티켓의 담당자로 지정되었습니다.\n\n"
        "제목: {{ ticket.subject }}\n"
        "고객: {{ contact.name | (이름 없음) }}\n"
        "우선순위: {{ ticket.priority_label }}\n"
        "기한: {{ ticket.due_at | 미정 }}\n"
        "티켓: {{ ticket.id }}\n",
    ),
    _t(
        _U,
        "agent",
        "ko",
        "티켓이 변경되었습니다: {{ ticket.subject }}",
        "{{ agent.name | 담당자 }}님, 안녕하세요.\n\n"
        "담당하신 티켓이 변경되었습니다: {{ ticket.changes | 세부 정보 }}.\n\n"
        "제목: {{ ticket.subject }}\n"
        "상태: {{ ticket.status_label }}\n"
        "우선순위: {{ ticket.priority_label }}\n"
        "기한: {{ ticket.due_at | 미정 }}\n"
        "티켓: {{ ticket.id }}\n",
    ),
    _t(
        _R,
        "agent",
        "ko",
        "티켓이 해결되었습니다: {{ ticket.subject }}",
        "{{ agent.name | 담당자 }}님, 안녕하세요.\n\n"
        '"{{ ticket.subject }}" 티켓의 상태: {{ ticket.status_label }}.\n\n'
        "티켓: {{ ticket.id }}\n",
    ),
    # -- Turkish -----------------------------------------------------------------
    _t(
        _C,
        "customer",
        "tr",
        "Talebinizi aldık: {{ ticket.subject }}",
        'Sayın {{ contact.name | "müşterimiz" }},\n\n'
        'Bize ulaştığınız için teşekkür ederiz. "{{ ticket.subject }}" talebiniz için bir '
        "kayıt açtık; en kısa sürede size dönüş yapacağız.\n\n"
        "Kayıt numarası: {{ ticket.id }}\n\n"
        '-- {{ company.name | "Destek ekibi" }}\n',
    ),
    _t(
        _U,
        "customer",
        "tr",
        "Talebinizle ilgili güncelleme: {{ ticket.subject }}",
        'Sayın {{ contact.name | "müşterimiz" }},\n\n'
        '"{{ ticket.subject }}" talebinizle ilgili bir gelişme var.\n\n'
        "Durum: {{ ticket.status_label }}\n"
        'Son tarih: {{ ticket.due_at | "belirlenmedi" }}\n'
        "Kayıt numarası: {{ ticket.id }}\n\n"
        '-- {{ company.name | "Destek ekibi" }}\n',
    ),
    _t(
        _R,
        "customer",
        "tr",
        "Talebiniz çözüldü: {{ ticket.subject }}",
        'Sayın {{ contact.name | "müşterimiz" }},\n\n'
        '"{{ ticket.subject }}" talebinizi çözdük. Hâlâ bir sorun varsa bize yeniden '
        "yazmanız yeterli.\n\n"
        "Kayıt numarası: {{ ticket.id }}\n\n"
        '-- {{ company.name | "Destek ekibi" }}\n',
    ),
    _t(
        _C,
        "agent",
        "tr",
        "Size yeni bir kayıt atandı: {{ ticket.subject }}",
        "Merhaba {{ agent.first_name | }},\n\n"
        "Yeni bir kayıt açıldı ve sorumlusu sizsiniz.\n\n"
        "Konu: {{ ticket.subject }}\n"
        'Müşteri: {{ contact.name | "(isimsiz)" }}\n'
        "Öncelik: {{ ticket.priority_label }}\n"
        'Son tarih: {{ ticket.due_at | "belirlenmedi" }}\n'
        "Kayıt: {{ ticket.id }}\n",
    ),
    _t(
        _U,
        "agent",
        "tr",
        "Kayıt güncellendi: {{ ticket.subject }}",
        "Merhaba {{ agent.first_name | }},\n\n"
        'Sorumlu olduğunuz kayıtta değişiklik var: {{ ticket.changes | "ayrıntılar" }}.\n\n'
        "Konu: {{ ticket.subject }}\n"
        "Durum: {{ ticket.status_label }}\n"
        "Öncelik: {{ ticket.priority_label }}\n"
        'Son tarih: {{ ticket.due_at | "belirlenmedi" }}\n'
        "Kayıt: {{ ticket.id }}\n",
    ),
    _t(
        _R,
        "agent",
        "tr",
        "Kayıt çözüldü: {{ ticket.subject }}",
        "Merhaba {{ agent.first_name | }},\n\n"
        '"{{ ticket.subject }}" kaydının durumu: {{ ticket.status_label }}.\n\n'
        "Kayıt: {{ ticket.id }}\n",
    ),
)
"""The built-in templates: created, updated and resolved, to customer and agent, in en, ko, tr."""

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "open": "open",
        "pending": "waiting on the customer",
        "on_hold": "on hold",
        "solved": "solved",
        "closed": "closed",
        "low": "low",
        "normal": "normal",
        "high": "high",
        "urgent": "urgent",
        "subject": "subject",
        "priority": "priority",
        "owner_id": "owner",
        "due_at": "due date",
        "team": "team",
        "status": "status",
    },
    "ko": {
        "open": "처리 중",
        "pending": "고객 답변 대기",
        "on_hold": "보류",
        "solved": "해결됨",
        "closed": "종료",
        "low": "낮음",
        "normal": "보통",
        "high": "높음",
        "urgent": "긴급",
        "subject": "제목",
        "priority": "우선순위",
        "owner_id": "담당자",
        "due_at": "기한",
        "team": "팀",
        "status": "상태",
    },
    "tr": {
        "open": "açık",
        "pending": "müşteri yanıtı bekleniyor",
        "on_hold": "beklemede",
        "solved": "çözüldü",
        "closed": "kapatıldı",
        "low": "düşük",
        "normal": "normal",
        "high": "yüksek",
        "urgent": "acil",
        "subject": "konu",
        "priority": "öncelik",
        "owner_id": "sorumlu",
        "due_at": "son tarih",
        "team": "ekip",
        "status": "durum",
    },
}


def _candidates(language: str, default: str) -> list[str]:
    wanted = language.strip().lower()
    found = [wanted, wanted.split("-", 1)[0], default.lower(), default.lower().split("-", 1)[0]]
    return list(dict.fromkeys([*found, "en"]))


def label(value: str, language: str) -> str:
    """``value`` (a status, priority or field name) in words of ``language`` (else English)."""
    for code in _candidates(language, "en"):
        if value in _LABELS.get(code, {}):
            return _LABELS[code][value]
    return value.replace("_", " ")


def choose_template(
    kind: NotificationKind,
    recipient: RecipientKind,
    language: str,
    *,
    overrides: Iterable[NotificationTemplate] = (),
    default_language: str = "en",
) -> NotificationTemplate:
    """The template for ``kind`` and ``recipient`` closest to ``language``.

    Tries the language, its base (``pt-BR`` → ``pt``), the default language
    and English; at each step your templates first, then the built-in ones.
    """
    mine = {t.key: t for t in overrides}
    builtin = {t.key: t for t in DEFAULT_TEMPLATES}
    for code in _candidates(language, default_language):
        key = (kind.value, recipient.value, code)
        found = mine.get(key) or builtin.get(key)
        if found is not None:
            return found
    raise LookupError(f"no template for {kind.value} to {recipient.value}")  # pragma: no cover
