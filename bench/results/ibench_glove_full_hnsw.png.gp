set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_glove_full_hnsw.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'glove100 (n=331479, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
26844.664 0.87650
27927.696 0.89635
23863.497 0.92140
17501.204 0.94730
14623.796 0.96090
9689.582 0.97680
7081.773 0.98290
5275.938 0.98985
EOD
$d1 << EOD
50437.894 0.87650
50390.506 0.89635
42374.584 0.92140
33091.237 0.94730
19529.240 0.96090
18792.643 0.97680
14628.235 0.98290
10550.206 0.98985
EOD
$d2 << EOD
18699.280 0.84685
14743.958 0.89335
14123.163 0.92060
10183.563 0.94835
8113.878 0.96095
5522.453 0.97635
4162.185 0.98320
2912.006 0.98970
EOD
$d3 << EOD
41144.982 0.84685
29681.087 0.89335
24998.748 0.92060
18636.048 0.94835
11275.498 0.96095
8904.788 0.97635
7256.098 0.98320
5799.241 0.98970
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnswlib:m=16,efc=200', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnswlib:m=16,efc=200 (2 thr)'
