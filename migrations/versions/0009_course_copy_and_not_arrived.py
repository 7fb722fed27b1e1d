"""an assignment's switch to leave the course's version beside a notebook; per delivery, how many
files kept some of the course's change out

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('course_copy', sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('not_arrived', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_column('not_arrived')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_column('course_copy')
