using System.Text.Json;

namespace LowLatencyBatcher.GpuCheck;

/// <summary>
/// The shim bindings the GPU checks use, exercised on CPU tensors of a real libtorch_cpu: allocation, data
/// pointers, prefix views, <c>copy_</c> and <c>mm_out</c>, with exact results. It runs where there is no CUDA
/// (so CI checks the bindings' signatures) and on a GPU machine before the GPU checks.
/// </summary>
internal static class ShimOnCpuCheck
{
    public static bool Run(TorchShim torch, Utf8JsonWriter json)
    {
        using AtenTensor ids = torch.Empty(torch.Int64, onCuda: false, 0, 1000);
        Span<long> values = ids.HostInt64;
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = i * 3L - 7;
        }

        using AtenTensor prefix = torch.Prefix(ids, 600);
        using AtenTensor copy = torch.Empty(torch.Int64, onCuda: false, 0, 600);
        torch.Copy(copy, prefix, nonBlocking: false);
        bool viewShares = prefix.DataPointer == ids.DataPointer;
        bool copyExact = copy.HostInt64.SequenceEqual(values[..600]);

        using AtenTensor a = torch.Empty(torch.Float32, onCuda: false, 0, 2, 3);
        using AtenTensor b = torch.Empty(torch.Float32, onCuda: false, 0, 3, 2);
        using AtenTensor product = torch.Empty(torch.Float32, onCuda: false, 0, 2, 2);
        float[] left = [1, 2, 3, 4, 5, 6];
        float[] right = [7, 8, 9, 10, 11, 12];
        left.CopyTo(a.HostFloat32);
        right.CopyTo(b.HostFloat32);
        torch.MatMul(product, a, b);
        float[] got = product.HostFloat32.ToArray();
        bool productExact = got.SequenceEqual([58f, 64f, 139f, 154f]);

        json.WriteBoolean("prefix_view_shares_storage", viewShares);
        json.WriteBoolean("copy_exact", copyExact);
        json.WriteStartArray("matmul_2x3_by_3x2");
        foreach (float value in got)
        {
            json.WriteNumberValue(value);
        }

        json.WriteEndArray();
        json.WriteBoolean("matmul_exact", productExact);
        json.WriteBoolean("pinned_allocator_exported", torch.HasPinnedAllocator);
        return viewShares && copyExact && productExact;
    }
}
