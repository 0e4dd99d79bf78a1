"""The comparison app for bench/service.sh: the FastAPI + SQLAlchemy CRUD app of the seed
tutorial (seeds/fastapi-alembic-crud.md), reduced to the route being measured and pointed at
the bookstore's `authors` table.

It keeps the tutorial's shape on purpose: a SQLAlchemy engine with its default pool, a
session opened per request through a `Depends` generator, `db.get()` by primary key, a
Pydantic response model, and an `async def` handler that calls the (blocking) session, as
the tutorial writes it (`/authors/{id}`). That shape blocks the event loop on every query
and, once the pool is exhausted, stalls until SQLAlchemy's 30 s pool timeout; so the same
handler is also served as a plain `def` (`/sync/authors/{id}`), which FastAPI runs on its
thread pool: the comparison a fair reviewer would ask for.

    DATABASE_URL=postgresql+psycopg2://postgres@127.0.0.1:5432/db \
        uvicorn fastapi_app:app --app-dir bench --port 8001
"""

import os
from datetime import datetime
from typing import Optional

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

DATABASE_URL = os.environ.get(
    "DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/dk_bench_service"
)

engine = create_engine(DATABASE_URL)
SessionLocal = sessionmaker(bind=engine)


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(nullable=False)
    bio: Mapped[Optional[str]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AuthorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    bio: Optional[str]
    created_at: datetime
    updated_at: datetime


app = FastAPI()


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


def find_author(db: Session, author_id: int) -> Author:
    author = db.get(Author, author_id)
    if author is None:
        raise HTTPException(status_code=404, detail="Author not found")
    return author


@app.get("/authors/{author_id}")
async def read_author(author_id: int, db: Session = Depends(get_db)) -> AuthorOut:
    return find_author(db, author_id)


@app.get("/sync/authors/{author_id}")
def read_author_sync(author_id: int, db: Session = Depends(get_db)) -> AuthorOut:
    return find_author(db, author_id)
