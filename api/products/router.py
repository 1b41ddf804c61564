"""GET /products: the catalog."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.dependencies import SessionFactory
from api.products.schemas import ProductOut
from api.products.service import ProductService
from api.responses import problem_responses

router = APIRouter(tags=["products"])


async def _service(sessions: SessionFactory) -> ProductService:
    return ProductService(sessions)


Service = Annotated[ProductService, Depends(_service)]


@router.get(
    "/products",
    response_model=list[ProductOut],
    summary="List the catalog",
    responses=problem_responses(503),
)
async def list_products(service: Service) -> list[ProductOut]:
    return await service.catalog()
