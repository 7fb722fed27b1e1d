"""the branch each delivery was made on; the commit a reset was asked to put back

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 07:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('branch', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('reset_to', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_column('reset_to')
        batch_op.drop_column('branch')
