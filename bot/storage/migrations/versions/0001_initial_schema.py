"""Initial schema: Teams plumbing, nudge state, statistics, WG nominations.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 01:18:58.500074
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('activity_claims',
    sa.Column('key', sa.String(length=400), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_activity_claims'))
    )
    op.create_index(op.f('ix_activity_claims_claimed_at'), 'activity_claims', ['claimed_at'], unique=False)

    op.create_table('campaigns',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('fiscal_year', sa.Integer(), nullable=False),
    sa.Column('wg_ids', sa.JSON(), nullable=False),
    sa.Column('wg_departments', sa.JSON(), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reminder_schedule', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('open', 'closed')", name=op.f('ck_campaigns_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns'))
    )
    op.create_index(op.f('ix_campaigns_status'), 'campaigns', ['status'], unique=False)

    op.create_table('conversations',
    sa.Column('conversation_id', sa.String(length=400), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('service_url', sa.String(length=400), nullable=False),
    sa.Column('tenant_id', sa.String(length=200), nullable=True),
    sa.Column('bot_id', sa.String(length=200), server_default='', nullable=False),
    sa.Column('team_id', sa.String(length=400), nullable=True),
    sa.Column('channel_id', sa.String(length=400), nullable=True),
    sa.Column('thread_root_id', sa.String(length=200), nullable=True),
    sa.Column('user_aad_id', sa.String(length=200), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('conversation_id', name=op.f('pk_conversations'))
    )
    op.create_index(op.f('ix_conversations_kind'), 'conversations', ['kind'], unique=False)
    op.create_index(op.f('ix_conversations_user_aad_id_kind'), 'conversations', ['user_aad_id', 'kind'], unique=False)

    op.create_table('departments',
    sa.Column('code', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('contacts', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('sort_order', sa.Integer(), server_default='0', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_departments'))
    )
    op.create_table('job_runs',
    sa.Column('job', sa.String(length=200), nullable=False),
    sa.Column('slot', sa.String(length=200), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('job', 'slot', name=op.f('pk_job_runs'))
    )
    op.create_table('nomination_audit',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('campaign_id', sa.String(length=200), nullable=False),
    sa.Column('entity', sa.String(length=20), nullable=False),
    sa.Column('entity_id', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nomination_audit'))
    )
    op.create_index(op.f('ix_nomination_audit_campaign_id_entity_id'), 'nomination_audit', ['campaign_id', 'entity_id'], unique=False)

    op.create_table('nudge_feedback',
    sa.Column('nudge_id', sa.String(length=200), nullable=False),
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('rule_id', sa.String(length=200), nullable=False),
    sa.Column('helpful', sa.Boolean(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('nudge_id', 'user_key', 'rule_id', name=op.f('pk_nudge_feedback'))
    )
    op.create_index(op.f('ix_nudge_feedback_day'), 'nudge_feedback', ['day'], unique=False)

    op.create_table('nudge_opt_outs',
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('rule_id', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_key', 'rule_id', name=op.f('pk_nudge_opt_outs'))
    )
    op.create_table('nudge_rule_days',
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('rule_id', sa.String(length=200), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('user_key', 'day', 'rule_id', name=op.f('pk_nudge_rule_days'))
    )
    op.create_table('nudge_snoozes',
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('until', sa.Date(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_key', name=op.f('pk_nudge_snoozes'))
    )
    op.create_table('nudge_user_days',
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('user_key', 'day', name=op.f('pk_nudge_user_days'))
    )
    op.create_table('recent_events',
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('conversation_id', sa.String(length=400), nullable=False),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_key', 'conversation_id', 'kind', name=op.f('pk_recent_events'))
    )
    op.create_index(op.f('ix_recent_events_at'), 'recent_events', ['at'], unique=False)

    op.create_table('reminder_claims',
    sa.Column('campaign_id', sa.String(length=200), nullable=False),
    sa.Column('department_code', sa.String(length=200), nullable=False),
    sa.Column('slot', sa.String(length=200), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('campaign_id', 'department_code', 'slot', name=op.f('pk_reminder_claims'))
    )
    op.create_table('sent_nudges',
    sa.Column('nudge_id', sa.String(length=200), nullable=False),
    sa.Column('conversation_id', sa.String(length=400), nullable=False),
    sa.Column('message_activity_id', sa.String(length=200), nullable=False),
    sa.Column('user_key', sa.String(length=128), nullable=False),
    sa.Column('rule_ids', sa.JSON(), nullable=False),
    sa.Column('sent_activity_id', sa.String(length=200), nullable=True),
    sa.Column('delivered_via', sa.String(length=20), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('nudge_id', name=op.f('pk_sent_nudges'))
    )
    op.create_index(op.f('ix_sent_nudges_conversation_id_message_activity_id'), 'sent_nudges', ['conversation_id', 'message_activity_id'], unique=False)
    op.create_index(op.f('ix_sent_nudges_sent_at'), 'sent_nudges', ['sent_at'], unique=False)

    op.create_table('stats_daily',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('conversation_kind', sa.String(length=20), nullable=False),
    sa.Column('department', sa.String(length=200), nullable=False),
    sa.Column('rule_id', sa.String(length=200), nullable=False),
    sa.Column('metric', sa.String(length=50), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'conversation_kind', 'department', 'rule_id', 'metric', name=op.f('pk_stats_daily'))
    )
    op.create_table('stats_distinct_users',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('metric', sa.String(length=50), nullable=False),
    sa.Column('dimension', sa.String(length=200), nullable=False),
    sa.Column('user_hash', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('day', 'metric', 'dimension', 'user_hash', name=op.f('pk_stats_distinct_users'))
    )
    op.create_table('submit_actions',
    sa.Column('idempotency_key', sa.String(length=400), nullable=False),
    sa.Column('entity', sa.String(length=20), nullable=False),
    sa.Column('entity_id', sa.String(length=200), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('idempotency_key', name=op.f('pk_submit_actions'))
    )
    op.create_table('applications',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('campaign_id', sa.String(length=200), nullable=False),
    sa.Column('applicant_aad_id', sa.String(length=200), nullable=False),
    sa.Column('applicant_name', sa.String(length=200), nullable=False),
    sa.Column('department_code', sa.String(length=200), nullable=True),
    sa.Column('wg_id', sa.String(length=200), nullable=False),
    sa.Column('themes', sa.JSON(), nullable=False),
    sa.Column('motivation', sa.Text(), nullable=False),
    sa.Column('supervisor_agreed', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('submitted', 'withdrawn')", name=op.f('ck_applications_status')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_applications_campaign_id_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications')),
    sa.UniqueConstraint('campaign_id', 'applicant_aad_id', name=op.f('uq_applications_campaign_id_applicant_aad_id'))
    )
    op.create_table('submissions',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('campaign_id', sa.String(length=200), nullable=False),
    sa.Column('department_code', sa.String(length=200), nullable=False),
    sa.Column('wg_id', sa.String(length=200), nullable=False),
    sa.Column('nominees', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('submitted_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('submitted', 'withdrawn')", name=op.f('ck_submissions_status')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_submissions_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['department_code'], ['departments.code'], name=op.f('fk_submissions_department_code_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submissions')),
    sa.UniqueConstraint('campaign_id', 'department_code', 'wg_id', name=op.f('uq_submissions_campaign_id_department_code_wg_id'))
    )


def downgrade() -> None:
    op.drop_table('submissions')
    op.drop_table('applications')
    op.drop_table('submit_actions')
    op.drop_table('stats_distinct_users')
    op.drop_table('stats_daily')
    op.drop_index(op.f('ix_sent_nudges_sent_at'), table_name='sent_nudges')
    op.drop_index(op.f('ix_sent_nudges_conversation_id_message_activity_id'), table_name='sent_nudges')

    op.drop_table('sent_nudges')
    op.drop_table('reminder_claims')
    op.drop_index(op.f('ix_recent_events_at'), table_name='recent_events')

    op.drop_table('recent_events')
    op.drop_table('nudge_user_days')
    op.drop_table('nudge_snoozes')
    op.drop_table('nudge_rule_days')
    op.drop_table('nudge_opt_outs')
    op.drop_index(op.f('ix_nudge_feedback_day'), table_name='nudge_feedback')

    op.drop_table('nudge_feedback')
    op.drop_index(op.f('ix_nomination_audit_campaign_id_entity_id'), table_name='nomination_audit')

    op.drop_table('nomination_audit')
    op.drop_table('job_runs')
    op.drop_table('departments')
    op.drop_index(op.f('ix_conversations_user_aad_id_kind'), table_name='conversations')
    op.drop_index(op.f('ix_conversations_kind'), table_name='conversations')

    op.drop_table('conversations')
    op.drop_index(op.f('ix_campaigns_status'), table_name='campaigns')

    op.drop_table('campaigns')
    op.drop_index(op.f('ix_activity_claims_claimed_at'), table_name='activity_claims')

    op.drop_table('activity_claims')
