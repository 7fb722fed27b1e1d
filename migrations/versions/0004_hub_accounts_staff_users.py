"""accounts Hubclass created, staff by username, courses with no creator

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:00:00

"""
import json

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('hub_account',
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('hub_created', sa.String(length=40), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_hub_account_course_id_course')),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_hub_account'))
    )
    with op.batch_alter_table('hub_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hub_account_course_id'), ['course_id'], unique=False)

    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'staff_users', sa.JSON(), nullable=False, server_default=sa.text("'[]'")
        ))
        batch_op.alter_column('created_by', existing_type=sa.String(length=255), nullable=True)
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.alter_column('staff_users', existing_type=sa.JSON(), server_default=None)

    conn = op.get_bind()
    # Command-line courses recorded the creator "cli", which a Hub user of that name matched.
    conn.execute(sa.text("UPDATE course SET created_by = NULL WHERE created_by = 'cli'"))

    # Accounts that earlier roster imports created: the newest creation of each name wins.
    imports = conn.execute(sa.text(
        "SELECT course_id, applied_at, results FROM roster_import "
        "WHERE applied_at IS NOT NULL ORDER BY applied_at, id"
    )).fetchall()
    created = {}
    for course_id, applied_at, results in imports:
        if isinstance(results, str):
            results = json.loads(results or "{}")
        for username, result in (results or {}).items():
            if result == "created":
                created[username] = (course_id, applied_at)
    # The times go back as they were read (text on SQLite, datetime on PostgreSQL).
    for name, (course_id, applied_at) in created.items():
        conn.execute(
            sa.text(
                "INSERT INTO hub_account (username, course_id, hub_created, recorded_at) "
                "VALUES (:name, :course_id, NULL, :recorded_at)"
            ),
            {"name": name, "course_id": course_id, "recorded_at": applied_at},
        )


def downgrade():
    conn = op.get_bind()
    # Not "cli", which a Hub user could be called: the Hub refuses usernames with a '/'.
    conn.execute(sa.text("UPDATE course SET created_by = 'command/line' WHERE created_by IS NULL"))
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.alter_column('created_by', existing_type=sa.String(length=255), nullable=False)
        batch_op.drop_column('staff_users')
    with op.batch_alter_table('hub_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hub_account_course_id'))
    op.drop_table('hub_account')
