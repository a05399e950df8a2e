set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_mnist_ivf.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'mnist10k (n=9000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
3659.644 0.56000
1937.746 0.77570
2002.788 0.91400
731.181 0.96290
620.455 0.97920
260.351 0.98220
EOD
$d1 << EOD
2979.197 0.56000
3524.321 0.77570
2295.917 0.91400
822.337 0.96290
691.109 0.97920
457.148 0.98220
EOD
$d2 << EOD
3052.180 0.56000
2217.421 0.77750
1826.179 0.92060
1414.730 0.97510
847.143 0.99400
600.401 0.99880
EOD
$d3 << EOD
3489.267 0.56000
3124.450 0.77750
2138.603 0.92060
1464.366 0.97510
826.697 0.99400
627.513 0.99880
EOD
$d4 << EOD
628.564 0.57560
480.297 0.78290
484.210 0.92630
453.534 0.97590
336.103 0.99150
441.073 0.99380
EOD
$d5 << EOD
721.570 0.57560
757.279 0.78290
718.394 0.92630
719.399 0.97590
404.050 0.99150
551.625 0.99380
EOD
$d6 << EOD
EOD
$d7 << EOD
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'ivf:nlist=128/pq:m=56,bits=4/rerank=4', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'ivf:nlist=128/pq:m=56,bits=4/rerank=4 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'ivf:nlist=128/tq:bits=4/rerank=4', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'ivf:nlist=128/tq:bits=4/rerank=4 (2 thr)', \
     $d4 using 1:2 with linespoints lc 3 dt 1 pt 3 title 'faiss:IVF128,PQ56x4fs,RFlat@k_factor_rf=4', \
     $d5 using 1:2 with linespoints lc 3 dt 2 pt 3 title 'faiss:IVF128,PQ56x4fs,RFlat@k_factor_rf=4 (2 thr)'
