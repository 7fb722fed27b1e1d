"""an assignment's latest known commit; deliveries that reset a student's files

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:05:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latest_commit', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('latest_checked_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('kind', sa.String(length=10), server_default='sync', nullable=False)
        )
        batch_op.add_column(sa.Column('paths', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_column('paths')
        batch_op.drop_column('kind')

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_column('latest_checked_at')
        batch_op.drop_column('latest_commit')
