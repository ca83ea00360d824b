"""Asking a colleague about a contact, and recording the answer in the customer's story."""

from __future__ import annotations

from collections.abc import Sequence

from handoff_bot.domain.errors import NotFound
from handoff_bot.domain.questions import Question
from handoff_bot.domain.text import clean_text
from handoff_bot.services.commands import AnswerQuestion, AskQuestion, CancelQuestion
from handoff_bot.services.effects import record
from handoff_bot.services.ports import Clock, UnitOfWorkFactory
from handoff_bot.services.reach import require_reachable
from handoff_bot.services.reminders import ReminderPolicy, timers_for_question
from handoff_bot.services.retry import on_conflict

QUESTION_MAX = 3000


async def ask_question(
    cmd: AskQuestion,
    *,
    uow: UnitOfWorkFactory,
    clock: Clock,
    reminders: ReminderPolicy | None = None,
    platforms: Sequence[str] | None = None,
) -> Question:
    """With `platforms` (the configured chat platforms), a colleague on none of them is Unreachable."""
    text = clean_text(cmd.text)[:QUESTION_MAX]
    async with uow() as tx:
        await tx.people.get(cmd.asker_id)
        colleague = await tx.people.get(cmd.colleague_id)
        if platforms is not None and colleague.id != cmd.asker_id:
            require_reachable(colleague, platforms)
        await tx.contacts.get(cmd.contact_id)
        question = await tx.questions.add(
            Question(
                id=None,
                contact_id=cmd.contact_id,
                asker_id=cmd.asker_id,
                colleague_id=cmd.colleague_id,
                text=text,
                asked_at=clock.now(),
            )
        )
        await record(tx, question.asked(cmd.via))
        for timer in timers_for_question(question, reminders) if reminders else ():
            await tx.outbox.enqueue(timer)
        await tx.commit()
        return question


async def answer_question(cmd: AnswerQuestion, *, uow: UnitOfWorkFactory, clock: Clock) -> Question:
    """The first answer counts; a second one gets QuestionClosed(answered_by=…)."""
    text = clean_text(cmd.text)[:QUESTION_MAX]

    async def attempt() -> Question:
        async with uow() as tx:
            await tx.people.get(cmd.person_id)
            question = await tx.questions.get(cmd.question_id)
            event = question.answer_with(cmd.person_id, text, clock.now())
            await tx.questions.save(question)
            await record(tx, event)
            await tx.commit()
            return question

    return await on_conflict(attempt)


async def cancel_question(cmd: CancelQuestion, *, uow: UnitOfWorkFactory, clock: Clock) -> Question:
    async def attempt() -> Question:
        async with uow() as tx:
            question = await tx.questions.get(cmd.question_id)
            if cmd.person_id != question.asker_id:
                # Only the asker withdraws a question; anyone else sees it as not theirs.
                raise NotFound(entity="question", key=cmd.question_id)
            event = question.cancel(cmd.person_id, clock.now())
            await tx.questions.save(question)
            await record(tx, event)
            await tx.commit()
            return question

    return await on_conflict(attempt)
