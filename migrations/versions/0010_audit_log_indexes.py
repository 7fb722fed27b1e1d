"""the audit log page's indexes: newest first within a course, an actor or an action

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 10:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        # (course_id, id) serves what the course_id index did, and the page's order too.
        batch_op.drop_index('ix_audit_event_course_id')
        batch_op.create_index('ix_audit_event_course_id_id', ['course_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_actor_id', ['actor', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_action_id', ['action', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_action_id')
        batch_op.drop_index('ix_audit_event_actor_id')
        batch_op.drop_index('ix_audit_event_course_id_id')
        batch_op.create_index('ix_audit_event_course_id', ['course_id'], unique=False)
