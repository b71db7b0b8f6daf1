using Microsoft.AspNetCore.Mvc;

namespace LowLatencyBatcher.Server;

/// <summary>
/// <c>GET /v1/models</c> in the OpenAI shape: <c>{"object": "list", "data": [{"id": "all-MiniLM-L6-v2", "object":
/// "model", "created": 0, "owned_by": "lowlatencybatcher", "dimensions": 384, "backend": "torch"}]}</c>.
/// </summary>
internal static class ModelsEndpoint
{
    public static IResult List([FromServices] ModelInfo model) => Results.Json(new
    {
        @object = "list",
        data = new[]
        {
            new
            {
                id = model.Name,
                @object = "model",
                created = 0,
                owned_by = "lowlatencybatcher",
                dimensions = model.Dimensions,
                backend = model.Backend,
            },
        },
    });
}
