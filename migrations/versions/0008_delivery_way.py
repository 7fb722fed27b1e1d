"""the way each delivery reached its student; deliveries by student and end (the poller's
look for Hub activity that was a delivery's)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 23:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('way', sa.String(length=10), nullable=True))
        batch_op.create_index(
            'ix_delivery_username_finished', ['username', 'finished_at'], unique=False
        )


def downgrade():
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_username_finished')
        batch_op.drop_column('way')
